import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../support/ports.ts';
import { scratchDir } from '../support/temporal.ts';
import { startCallbackReceiver, unwrap } from './callback-receiver.ts';
import { eventually, startSimulator } from './simulator-harness.ts';

const receivers: Awaited<ReturnType<typeof startCallbackReceiver>>[] = [];
after(async () => {
  for (const receiver of receivers) await receiver.close();
});

async function receiver(statusFor?: (count: number) => number) {
  const started = await startCallbackReceiver(statusFor);
  receivers.push(started);
  return started;
}

const types = (received: { body: unknown }[]) =>
  received.map((callback) => (unwrap(callback.body) as { callbackType: string }).callbackType);

describe('the simulator keeps its tasks in its data file', () => {
  test('a task submitted before a restart keeps its timeline in wall-clock time and its callbacks come', async () => {
    const dataFile = join(scratchDir('sim-store'), 'simulator.sqlite');
    const callbacks = await receiver();
    // Song phases at 10 s, 35 s, 150 s become 0.3 s, 1 s, 4.5 s.
    const first = await startSimulator({ timeScale: 0.03, dataFile });
    const taskId = await first.create('music', callbacks.url);
    const audioBefore = (await first.truth(taskId)).media as string[];
    await first.close();
    const beforeRestart = callbacks.received.length;
    assert.ok(beforeRestart < 3, 'closed before the song finished');

    await new Promise((done) => setTimeout(done, 5_000));
    const second = await startSimulator({ timeScale: 0.03, dataFile });
    try {
      const truth = await second.truth(taskId);
      assert.equal(truth.status, 'SUCCESS', 'the timeline ran on while the simulator was down');
      await callbacks.waitFor(3);
      // Each phase's callback once: the ones owed while down came after the restart.
      assert.deepEqual(types(callbacks.received).sort(), ['complete', 'first', 'text']);
      const query = await second.query('music', taskId);
      assert.equal(query.body.data.status, 'SUCCESS');
      // The files are the same ones, made again from the task's seed and body.
      assert.deepEqual(truth.media, audioBefore);
      const file = await fetch((truth.media as string[])[0]!.replace(/^http:\/\/[^/]+/, second.base));
      assert.equal(file.status, 200);
    } finally {
      await second.close();
    }
  });

  test('a callback whose delivery failed is delivered again after a restart', async () => {
    const dataFile = join(scratchDir('sim-store'), 'simulator.sqlite');
    let refusing = true;
    const callbacks = await receiver(() => (refusing ? 503 : 200));
    // Lyrics finish at 20 s (0.4 s); the provider's redelivery after 1 minute becomes 1.2 s.
    const first = await startSimulator({ timeScale: 0.02, dataFile });
    const taskId = await first.create('lyrics', callbacks.url);
    await callbacks.waitFor(1);
    // Closed once the refusal is recorded (closed mid-request, the same attempt would be made again).
    await eventually(async () => (await first.truth(taskId)).callbacks.failed === 1);
    await first.close();
    refusing = false;

    const second = await startSimulator({ timeScale: 0.02, dataFile });
    try {
      await callbacks.waitFor(2, 5000);
      assert.deepEqual(types(callbacks.received), ['complete', 'complete']);
      const truth = await eventually(async () => {
        const seen = await second.truth(taskId);
        return seen.callbacks.delivered === 1 && seen;
      });
      assert.equal(truth.deliveries[0].attempt, 2, 'the second attempt, as owed');
      await new Promise((done) => setTimeout(done, 1500));
      assert.equal(callbacks.received.length, 2, 'nothing more is owed once delivered');
    } finally {
      await second.close();
    }
  });

  test('after a restart it waits for a receiver that is not listening yet, as `npm start` starts it first', async () => {
    const dataFile = join(scratchDir('sim-store'), 'simulator.sqlite');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/webhooks/music/lyrics?token=t`;
    const first = await startSimulator({ timeScale: 0.02, dataFile });
    const taskId = await first.create('lyrics', url);
    await first.close();
    await new Promise((done) => setTimeout(done, 600)); // past the lyrics' 0.4 s
    const second = await startSimulator({ timeScale: 0.02, dataFile });
    const bodies: string[] = [];
    const late = createServer((request, response) => {
      request.on('data', (chunk: Buffer) => bodies.push(chunk.toString()));
      request.on('end', () => response.end('{}'));
    });
    try {
      await new Promise((done) => setTimeout(done, 1500)); // refused meanwhile
      await new Promise<void>((done) => late.listen(port, '127.0.0.1', done));
      const truth = await eventually(async () => {
        const seen = await second.truth(taskId);
        return seen.callbacks.delivered === 1 && seen;
      }, 5000);
      assert.equal(bodies.length, 1);
      const delivered = truth.deliveries.find((record: { delivered: boolean }) => record.delivered);
      assert.equal(delivered.attempt, 1, 'waiting for the receiver is not a failed delivery');
    } finally {
      await second.close();
      late.closeAllConnections();
      await new Promise((done) => late.close(done));
    }
  });

  test('a reset forgets the stored tasks too', async () => {
    const dataFile = join(scratchDir('sim-store'), 'simulator.sqlite');
    const callbacks = await receiver();
    const first = await startSimulator({ timeScale: 0.004, dataFile });
    const taskId = await first.create('lyrics', callbacks.url);
    await first.control('POST', '/reset');
    await first.close();
    const second = await startSimulator({ timeScale: 0.004, dataFile });
    try {
      assert.equal((await second.call('GET', `/__sim/tasks/${taskId}`, undefined, null)).status, 404);
    } finally {
      await second.close();
    }
  });
});
