import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILURE_STATUSES, type TaskKind } from '../../src/provider/kinds.ts';
import { type FaultConfig } from '../../src/simulator/app.ts';
import { startCallbackReceiver, unwrap } from './callback-receiver.ts';
import { assertShape, eventually, example, startSimulator } from './simulator-harness.ts';

/** Runs `body` against a fast simulator with one fault switched on, and a callback receiver. */
async function withFault(
  faults: Partial<FaultConfig>,
  body: (
    sim: Awaited<ReturnType<typeof startSimulator>>,
    receiver: Awaited<ReturnType<typeof startCallbackReceiver>>,
  ) => Promise<void>,
  timeScale = 0.001,
) {
  const sim = await startSimulator({ timeScale, faults });
  const receiver = await startCallbackReceiver();
  try {
    await body(sim, receiver);
  } finally {
    await sim.close();
    await receiver.close();
  }
}

const settled = (sim: Awaited<ReturnType<typeof startSimulator>>, taskId: string) =>
  eventually(async () => {
    const truth = await sim.truth(taskId);
    return truth.settled && truth;
  });

describe('fault injection, each at probability 1', () => {
  test('dropCallback: no callback arrives, the query still reaches SUCCESS', () =>
    withFault({ dropCallback: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('music', receiver.url);
      await settled(sim, taskId);
      await new Promise((done) => setTimeout(done, 30));
      assert.equal(receiver.received.length, 0);
      assert.equal((await sim.query('music', taskId)).body.data.status, 'SUCCESS');
      assert.equal((await sim.truth(taskId)).callbacks.dropped, 3);
    }));

  test('duplicateCallback: every phase arrives 3 times', () =>
    withFault({ duplicateCallback: 1 }, async (sim, receiver) => {
      await sim.create('music', receiver.url);
      await receiver.waitFor(9);
      // Copies of one phase go out one after the other, but may interleave with the next phase's.
      for (const phase of ['text', 'first', 'complete']) {
        const copies = receiver.received.filter((callback) => unwrap(callback.body).callbackType === phase);
        assert.equal(copies.length, 3, phase);
        assert.deepEqual(copies[2]!.body, copies[0]!.body);
      }
    }));

  test('delayCallbackMs: each callback leaves up to that much (scaled) later than its phase', () =>
    withFault({ delayCallbackMs: 100_000 }, async (sim, receiver) => {
      const taskId = await sim.create('wav', receiver.url);
      await receiver.waitFor(1);
      const truth = await sim.truth(taskId);
      const delay = truth.faults.callbacks.complete.extraDelayMs;
      assert.ok(delay > 0 && delay <= 100_000);
      assert.ok(truth.deliveries[0].atMs >= truth.schedule.complete + delay * 0.001 - 5);
    }));

  test('reorderCallbacks: phases arrive in the planned shuffled order once the task is done', () =>
    withFault({ reorderCallbacks: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('music', receiver.url);
      await receiver.waitFor(3);
      const order = receiver.received.map((callback) => unwrap(callback.body).callbackType);
      const truth = await sim.truth(taskId);
      assert.deepEqual(order, truth.faults.reorderedPhases);
      assert.notDeepEqual(order, ['text', 'first', 'complete']);
    }));

  test('wrappedCallbacks: song callbacks come as {code, msg, data}', () =>
    withFault({ wrappedCallbacks: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('music', receiver.url);
      await receiver.waitFor(3);
      for (const callback of receiver.received) {
        assert.equal(callback.body.code, 200);
        assert.equal(callback.body.data.task_id, taskId);
      }
      assertShape(receiver.received[2]!.body, example('callback-complete-wrapped'));
    }));

  test('snakeCaseQueries: query answers use snake_case field names', () =>
    withFault({ snakeCaseQueries: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('music', receiver.url);
      await sim.advance(taskId);
      const answer = await sim.query('music', taskId);
      assert.equal(answer.body.data.task_id, taskId);
      assert.equal(answer.body.data.response.suno_data[0].audio_url.endsWith('audio-a.mp3'), true);
      assertShape(answer.body, example('query-task-success-snake-case'));
      const wavId = await sim.create('wav', receiver.url);
      await sim.advance(wavId);
      const wav = await sim.query('wav', wavId);
      assert.equal(wav.body.data.success_flag, 'SUCCESS');
      assert.match(wav.body.data.response.audio_wav_url, /audio\.wav$/);
    }));

  test('numericSuccessFlag: successFlag is 0 while running and 1 when done', () =>
    withFault({ numericSuccessFlag: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('mp4', receiver.url);
      assert.equal((await sim.query('mp4', taskId)).body.data.successFlag, 0);
      await sim.advance(taskId);
      assert.equal((await sim.query('mp4', taskId)).body.data.successFlag, 1);
    }));

  test('epochTimestamps: createTime comes as epoch milliseconds', () =>
    withFault({ epochTimestamps: 1 }, async (sim, receiver) => {
      const before = Date.now();
      const taskId = await sim.create('music', receiver.url);
      await sim.advance(taskId);
      const data = (await sim.query('music', taskId)).body.data;
      assert.equal(typeof data.createTime, 'number');
      assert.ok(Math.abs(data.createTime - before) < 5000);
      assert.equal(typeof data.response.sunoData[0].createTime, 'number');
    }));

  test('transientSubmitError: submits answer 405, 430, 455 or 500 and create nothing', () =>
    withFault({ transientSubmitError: 1 }, async (sim, receiver) => {
      const codes = new Set<number>();
      for (let i = 0; i < 12; i++) {
        const answer = await sim.submit('lyrics', receiver.url);
        assert.ok([405, 430, 455, 500].includes(answer.body.code), JSON.stringify(answer.body));
        assert.ok(answer.status === 200 || answer.status === answer.body.code);
        if (answer.body.code === 430) assert.equal(answer.headers.get('retry-after'), '1');
        codes.add(answer.body.code);
      }
      assert.ok(codes.size > 1, 'several transient codes');
      assert.equal((await sim.control('GET', '/stats')).tasksSubmitted, 0);
    }));

  test('transient errors ask for a Retry-After scaled like every other simulated delay', async () => {
    const waits = async (timeScale: number) => {
      const sim = await startSimulator({ timeScale, faults: { transientSubmitError: 1 } });
      try {
        const byCode = new Map<number, string | null>();
        for (let i = 0; i < 24; i++) {
          const answer = await sim.submit('lyrics', 'http://127.0.0.1:9/webhooks/music?token=t');
          byCode.set(answer.body.code, answer.headers.get('retry-after'));
        }
        return byCode;
      } finally {
        await sim.close();
      }
    };
    const real = await waits(1);
    const fast = await waits(0.05);
    assert.equal(real.get(455), '30', 'maintenance: half a minute at the real pace');
    assert.equal(fast.get(455), '2', '30 s × 0.05, in whole seconds');
    for (const code of [405, 500]) if (fast.has(code)) assert.equal(fast.get(code), '1');
  });

  test('transientQueryError: queries answer a transient code instead of the task', () =>
    withFault({ transientQueryError: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('lyrics', receiver.url);
      const answer = await sim.query('lyrics', taskId);
      assert.ok([405, 430, 455, 500].includes(answer.body.code));
      assert.equal(answer.body.data, null);
    }));

  test('terminalFailure: the task ends failed, with errorCode/errorMessage and a wrapped error callback', () =>
    withFault({ terminalFailure: 1 }, async (sim, receiver) => {
      const kinds: TaskKind[] = ['music', 'lyrics', 'wav', 'mp4', 'cover-art', 'split-stem'];
      for (const kind of kinds) {
        const taskId = await sim.create(
          kind,
          receiver.url,
          kind === 'cover-art' ? { taskId: 'failing' } : {},
        );
        const truth = await settled(sim, taskId);
        assert.ok((FAILURE_STATUSES as readonly string[]).includes(truth.status), truth.status);
        const data = (await sim.query(kind, taskId)).body.data;
        assert.equal(data.status ?? data.successFlag, truth.status);
        assert.ok(data.errorCode >= 400);
        assert.equal(typeof data.errorMessage, 'string');
        const error = await eventually(() =>
          receiver.received.find(
            (callback) => callback.body.data?.task_id === taskId && callback.body.code !== 200,
          ),
        );
        assert.equal(error.body.data.callbackType, 'error');
        assert.equal(error.body.data.error, data.errorMessage);
        assertShape(error.body, example('callback-error'));
      }
    }));

  test('prematureComplete: a complete callback arrives while the query still says FIRST_SUCCESS', () =>
    withFault(
      { prematureComplete: 1 },
      async (sim, receiver) => {
        const taskId = await sim.create('music', receiver.url);
        await receiver.waitFor(3);
        const premature = receiver.received[2]!;
        assert.equal(premature.body.callbackType, 'complete');
        assert.equal((await sim.query('music', taskId)).body.data.status, 'FIRST_SUCCESS');
        await receiver.waitFor(4);
        assert.equal(receiver.received[3]!.body.callbackType, 'complete');
        assert.equal((await sim.query('music', taskId)).body.data.status, 'SUCCESS');
        const truth = await sim.truth(taskId);
        assert.deepEqual(
          truth.deliveries.map((delivery: any) => [delivery.phase, delivery.premature]),
          [
            ['text', false],
            ['first', false],
            ['complete', true],
            ['complete', false],
          ],
        );
      },
      0.01,
    )); // FIRST_SUCCESS lasts about 1.1 s here: room to query before the real completion.

  test('forgedCallback: an extra callback arrives without the token', () =>
    withFault({ forgedCallback: 1 }, async (sim, receiver) => {
      const taskId = await sim.create('wav', receiver.url);
      await receiver.waitFor(2);
      const [forged, real] = receiver.received;
      assert.equal(forged!.token, null);
      assert.equal(forged!.path, '/webhooks/music');
      assert.equal(real!.token, 'secret-token');
      const truth = await sim.truth(taskId);
      assert.equal(truth.callbacks.forged, 1);
      assert.equal(truth.deliveries[0].forged, true);
    }));
});

describe('fault control', () => {
  test('PUT /__sim/faults replaces the config and reseeds; GET returns it', async () => {
    const sim = await startSimulator({ seed: 5, faults: { dropCallback: 0.5 } });
    try {
      assert.equal((await sim.control('GET', '/faults')).dropCallback, 0.5);
      const replaced = await sim.control('PUT', '/faults', { seed: 9, terminalFailure: 1 });
      assert.equal(replaced.seed, 9);
      assert.equal(replaced.terminalFailure, 1);
      assert.equal(replaced.dropCallback, 0, 'fields not given go back to 0');
      const taskId = await sim.create('lyrics', 'http://127.0.0.1:9/x');
      assert.notEqual((await sim.truth(taskId)).faults.failure, null);
      const bad = await sim.call('PUT', '/__sim/faults', { dropCallback: 2 }, null);
      assert.equal(bad.status, 400);
      const typo = await sim.call('PUT', '/__sim/faults', { dropCallbacks: 1 }, null);
      assert.equal(typo.status, 400);
    } finally {
      await sim.close();
    }
  });
});
