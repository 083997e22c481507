import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
    assert.equal(callbacks.received.length, 0, 'closed before the first phase');

    await new Promise((done) => setTimeout(done, 5_000));
    const second = await startSimulator({ timeScale: 0.03, dataFile });
    try {
      const truth = await second.truth(taskId);
      assert.equal(truth.status, 'SUCCESS', 'the timeline ran on while the simulator was down');
      await callbacks.waitFor(3);
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
    // Lyrics finish at 20 s (80 ms); the provider's redelivery after 1 minute becomes 240 ms.
    const first = await startSimulator({ timeScale: 0.004, dataFile });
    const taskId = await first.create('lyrics', callbacks.url);
    await callbacks.waitFor(1);
    await first.close();
    refusing = false;

    const second = await startSimulator({ timeScale: 0.004, dataFile });
    try {
      await callbacks.waitFor(2, 3000);
      assert.deepEqual(types(callbacks.received), ['complete', 'complete']);
      const truth = await eventually(async () => {
        const seen = await second.truth(taskId);
        return seen.callbacks.delivered === 1 && seen;
      });
      assert.equal(truth.deliveries[0].attempt, 2, 'the second attempt, as owed');
      await new Promise((done) => setTimeout(done, 400));
      assert.equal(callbacks.received.length, 2, 'nothing more is owed once delivered');
    } finally {
      await second.close();
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
