import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type TaskKind } from '../../src/provider/kinds.ts';
import { startCallbackReceiver } from './callback-receiver.ts';
import { assertShape, eventually, example, startSimulator } from './simulator-harness.ts';

type Receiver = Awaited<ReturnType<typeof startCallbackReceiver>>;
type Simulator = Awaited<ReturnType<typeof startSimulator>>;

describe('callbacks', () => {
  let sim: Simulator;
  let receiver: Receiver;
  before(async () => {
    // Phases 25 s apart become 100 ms: song callbacks arrive in order even on a busy machine.
    sim = await startSimulator({ timeScale: 0.004 });
    receiver = await startCallbackReceiver();
  });
  after(async () => {
    await sim.close();
    await receiver.close();
  });

  const forTask = (taskId: string) =>
    receiver.received.filter((callback) => JSON.stringify(callback.body).includes(`"${taskId}"`));

  test('a song sends text, first and complete, bare, in the documented shapes', async () => {
    const taskId = await sim.create('music', receiver.url);
    await eventually(() => forTask(taskId).length === 3, 3000, 'three song callbacks');
    const [text, first, complete] = forTask(taskId);
    assert.deepEqual(text!.body, { callbackType: 'text', task_id: taskId, data: [] });
    assert.equal(first!.body.callbackType, 'first');
    assert.equal(first!.body.data[0].audio_url, '');
    assert.equal(first!.body.data[0].duration, null);
    assert.equal(complete!.body.callbackType, 'complete');
    assert.equal(complete!.body.data.length, 2);
    assert.match(complete!.body.data[0].audio_url, new RegExp(`/media/${taskId}/audio-a\\.mp3$`));
    for (const callback of [text, first, complete]) {
      assert.equal(callback!.token, 'secret-token');
      assert.equal(callback!.path, '/webhooks/music');
    }
    assertShape(text!.body, example('callback-text-bare'));
    assertShape(first!.body, example('callback-first-bare'));
    assertShape(complete!.body, example('callback-complete-bare'));
    const truth = await sim.truth(taskId);
    assert.deepEqual(truth.callbacks, {
      attempted: 3,
      delivered: 3,
      failed: 0,
      dropped: 0,
      forged: 0,
      gaveUp: 0,
    });
  });

  const oneShot: [TaskKind, string][] = [
    ['lyrics', 'callback-lyrics'],
    ['vocal-removal', 'callback-vocal-removal'],
    ['split-stem', 'callback-split-stem'],
    ['wav', 'callback-wav'],
    ['mp4', 'callback-mp4'],
    ['cover-art', 'callback-cover'],
  ];
  for (const [kind, name] of oneShot) {
    test(`${kind} sends one result callback shaped like ${name}.json`, async () => {
      const taskId = await sim.create(
        kind,
        receiver.url,
        kind === 'cover-art' ? { taskId: 'callbacks' } : {},
      );
      await eventually(() => forTask(taskId).length === 1, 3000, `${kind} callback`);
      const [callback] = forTask(taskId);
      if (kind === 'lyrics') assert.equal(callback!.body.callbackType, 'complete');
      else {
        assert.equal(callback!.body.code, 200);
        assert.equal(callback!.body.data.callbackType, undefined);
      }
      if (kind === 'split-stem') {
        const stems = callback!.body.data.vocal_removal_info;
        for (const field of ['vocal_url', 'instrumental_url', 'origin_url', 'drums_url', 'bass_url']) {
          assert.match(stems[field], new RegExp(`/media/${taskId}/`), field);
        }
      }
      const extra = kind === 'split-stem' ? ['$.data.vocal_removal_info'] : [];
      assertShape(callback!.body, example(name), extra);
      assert.equal(
        (await sim.query(kind, taskId)).body.data[kind === 'lyrics' ? 'status' : 'successFlag'],
        'SUCCESS',
      );
    });
  }
});

describe('redelivery', () => {
  test('a 500 from the receiver is redelivered after 1 and 5 (scaled) minutes', async () => {
    // timeScale 0.001: 1 min → 60 ms, 5 min → 300 ms, 15 min → 900 ms.
    const receiver = await startCallbackReceiver((count) => (count <= 2 ? 500 : 200));
    const sim = await startSimulator({ timeScale: 0.001 });
    try {
      const taskId = await sim.create('wav', receiver.url);
      await receiver.waitFor(3, 3000);
      const [first, second, third] = receiver.received;
      assert.deepEqual(second!.body, first!.body);
      assert.ok(second!.at - first!.at >= 55, `first retry after ${second!.at - first!.at} ms`);
      assert.ok(third!.at - second!.at >= 290, `second retry after ${third!.at - second!.at} ms`);
      const truth = await eventually(async () => {
        const current = await sim.truth(taskId);
        return current.callbacks.delivered === 1 && current;
      });
      assert.deepEqual(truth.callbacks, {
        attempted: 3,
        delivered: 1,
        failed: 2,
        dropped: 0,
        forged: 0,
        gaveUp: 0,
      });
      assert.deepEqual(
        truth.deliveries.map((delivery: any) => [delivery.attempt, delivery.status, delivery.delivered]),
        [
          [1, 500, false],
          [2, 500, false],
          [3, 200, true],
        ],
      );
    } finally {
      await sim.close();
      await receiver.close();
    }
  });

  test('after the 15-minute retry fails too, the callback is given up', async () => {
    const receiver = await startCallbackReceiver(() => 503);
    const sim = await startSimulator({ timeScale: 0.001 });
    try {
      const taskId = await sim.create('lyrics', receiver.url);
      const truth = await eventually(
        async () => {
          const current = await sim.truth(taskId);
          return current.callbacks.gaveUp === 1 && current;
        },
        4000,
        'give up',
      );
      assert.equal(receiver.received.length, 4);
      assert.deepEqual(truth.callbacks, {
        attempted: 4,
        delivered: 0,
        failed: 4,
        dropped: 0,
        forged: 0,
        gaveUp: 1,
      });
      assert.equal((await sim.control('GET', '/stats')).timersPending, 0);
    } finally {
      await sim.close();
      await receiver.close();
    }
  });

  test('an unreachable receiver counts as a failed attempt with the error recorded', async () => {
    const sim = await startSimulator({ timeScale: 0.001 });
    try {
      const taskId = await sim.create('lyrics', 'http://127.0.0.1:9/nobody-listens?token=x');
      const truth = await eventually(async () => {
        const current = await sim.truth(taskId);
        return current.deliveries.length > 0 && current;
      });
      assert.equal(truth.deliveries[0].delivered, false);
      assert.equal(truth.deliveries[0].status, null);
      assert.match(truth.deliveries[0].error, /ECONNREFUSED/);
    } finally {
      await sim.close();
    }
  });
});
