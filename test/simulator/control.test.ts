import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSimulator } from '../../src/simulator/app.ts';
import { startCallbackReceiver } from './callback-receiver.ts';
import { startSimulator } from './simulator-harness.ts';

test('stats count calls per route, per task, callbacks and downloads', async () => {
  const sim = await startSimulator({ timeScale: 0.001 });
  const receiver = await startCallbackReceiver();
  try {
    const taskId = await sim.create('music', receiver.url);
    await sim.query('music', taskId);
    await sim.query('music', taskId);
    await sim.call('GET', `/suno/query/wav?taskId=${taskId}`);
    await sim.call('GET', '/suno/query/task?taskId=x', undefined, null);
    await receiver.waitFor(3);
    await fetch(`${sim.base}/media/${taskId}/audio-a.mp3`);
    await fetch(`${sim.base}/media/${taskId}/audio-a.mp3`);

    const stats = await sim.control('GET', '/stats');
    assert.equal(stats.requests.total, 5);
    assert.deepEqual(stats.requests.byRoute, {
      'POST /suno/generate': 1,
      'GET /suno/query/task': 3,
      'GET /suno/query/wav': 1,
    });
    assert.deepEqual(stats.requests.byCode, { '200': 3, '404': 1, '401': 1 });
    assert.equal(stats.tasksSubmitted, 1);
    const task = stats.tasks[taskId];
    assert.equal(task.kind, 'music');
    assert.equal(task.status, 'SUCCESS');
    assert.deepEqual(task.calls, {
      'POST /suno/generate': 1,
      'GET /suno/query/task': 2,
      'GET /suno/query/wav': 1,
    });
    assert.deepEqual(task.callbacks, {
      attempted: 3,
      delivered: 3,
      failed: 0,
      dropped: 0,
      forged: 0,
      gaveUp: 0,
    });
    assert.equal(task.faults.failure, null);
    assert.deepEqual(stats.callbacks, task.callbacks);
    assert.deepEqual(stats.downloads, { total: 2, byFile: { [`/media/${taskId}/audio-a.mp3`]: 2 } });
    assert.equal(stats.timersPending, 0);

    await sim.control('POST', '/reset');
    const cleared = await sim.control('GET', '/stats');
    assert.equal(cleared.requests.total, 0);
    assert.deepEqual(cleared.tasks, {});
    assert.equal((await sim.query('music', taskId)).body.code, 404);
  } finally {
    await sim.close();
    await receiver.close();
  }
});

test('GET /__sim/tasks/:id tells the truth; advance finishes the task at once', async () => {
  const sim = await startSimulator();
  const receiver = await startCallbackReceiver();
  try {
    const taskId = await sim.create('music', receiver.url);
    const pending = await sim.truth(taskId);
    assert.equal(pending.status, 'PENDING');
    assert.equal(pending.settled, false);
    assert.equal(pending.outcome, 'SUCCESS');
    assert.deepEqual(pending.query, (await sim.query('music', taskId)).body);
    assert.equal(pending.media.length, 6);

    const done = await sim.advance(taskId);
    assert.equal(done.status, 'SUCCESS');
    assert.deepEqual(done.phasesDone, ['text', 'first', 'complete']);
    assert.deepEqual(done.query, (await sim.query('music', taskId)).body);
    await receiver.waitFor(3);
    assert.deepEqual(
      receiver.received.map((callback) => callback.body.callbackType),
      ['text', 'first', 'complete'],
      'advanced phases still go out in order',
    );
    assert.equal((await sim.call('GET', '/__sim/tasks/000000000000', undefined, null)).status, 404);
  } finally {
    await sim.close();
    await receiver.close();
  }
});

test('close() cancels every pending phase timer and callback delivery', async () => {
  const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
  const before = timeouts();
  const app = await buildSimulator({ seed: 1, faults: { forgedCallback: 1, prematureComplete: 1 } });
  for (let i = 0; i < 3; i++) {
    const response = await app.inject({
      method: 'POST',
      url: '/suno/generate',
      headers: { authorization: 'Bearer k' },
      payload: {
        customMode: false,
        instrumental: true,
        model: 'V5',
        prompt: 'p',
        callBackUrl: 'http://127.0.0.1:9/',
      },
    });
    assert.equal(response.json<{ code: number }>().code, 200);
  }
  const stats = (await app.inject({ method: 'GET', url: '/__sim/stats' })).json<{ timersPending: number }>();
  assert.equal(stats.timersPending, 3 * 5, 'three phases, a premature and a forged callback per task');
  assert.ok(timeouts() >= before + 15);
  await app.close();
  assert.equal(timeouts(), before);
});
