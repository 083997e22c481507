import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NormalizedCallback, ProviderSnapshot } from '../../src/provider/types.ts';
import {
  applySnapshot,
  BODY_HASHES_KEPT,
  describeProgress,
  newTaskState,
  POLLS_KEPT,
  RECEIPTS_KEPT_PER_PHASE,
  recordCallback,
  recordPoll,
  toView,
} from '../../src/workflows/state.ts';

const at = '2026-11-28T10:00:00.000Z';
const callback = (phase: NormalizedCallback['phase'], bodyHash: string) => ({
  callback: { taskId: 't1', kind: 'music' as const, phase, code: 200, result: {} },
  receipt: { receivedAt: at, bodyHash },
});
const snapshot = (status: string, extra: Partial<ProviderSnapshot> = {}): ProviderSnapshot => ({
  taskId: 't1',
  kind: 'music',
  status,
  terminal: false,
  failed: false,
  result: {},
  finished: false,
  ...extra,
});

describe('task state machine', () => {
  it('moves forward only, whatever order the phases arrive in', () => {
    const state = newTaskState('t1', 'music', at);
    assert.equal(recordCallback(state, callback('first', 'b1')), false);
    assert.equal(state.status, 'FIRST_SUCCESS');
    assert.equal(
      recordCallback(state, callback('text', 'b2')),
      true,
      'a phase already passed is a duplicate',
    );
    assert.equal(state.status, 'FIRST_SUCCESS');
    applySnapshot(state, snapshot('PENDING'), 'timer', at, false);
    assert.equal(state.status, 'FIRST_SUCCESS', 'an older query answer does not move it back');
  });

  it('treats the same body as a duplicate, whatever its phase', () => {
    const state = newTaskState('t1', 'music', at);
    recordCallback(state, callback('complete', 'same'));
    assert.equal(state.confirmationWanted, true);
    state.confirmationWanted = false;
    assert.equal(recordCallback(state, callback('complete', 'same')), true);
    assert.equal(state.confirmationWanted, false, 'a duplicate asks for nothing');
    assert.equal(
      recordCallback(state, callback('complete', 'other')),
      false,
      'a new complete body asks again',
    );
  });

  it('keeps SUCCESS only with a finished result, and settles on failures', () => {
    const state = newTaskState('t1', 'music', at);
    applySnapshot(state, snapshot('SUCCESS'), 'confirm', at, false);
    assert.equal(state.status, 'PENDING');
    applySnapshot(
      state,
      snapshot('GENERATE_AUDIO_FAILED', {
        failed: true,
        error: { code: 'GENERATE_AUDIO_FAILED', message: 'x' },
      }),
      'confirm',
      at,
      false,
    );
    assert.equal(state.status, 'GENERATE_AUDIO_FAILED');
    assert.deepEqual(state.error, { code: 'GENERATE_AUDIO_FAILED', message: 'x' });
    applySnapshot(state, snapshot('SUCCESS'), 'timer', at, true);
    assert.equal(state.status, 'GENERATE_AUDIO_FAILED', 'a settled task never moves');
    assert.equal(recordCallback(state, callback('text', 'late')), true);
  });

  it('stays bounded under a storm of distinct callbacks and polls', () => {
    const state = newTaskState('t1', 'music', at);
    for (let index = 0; index < 5_000; index++) {
      recordCallback(
        state,
        callback((['text', 'first', 'complete', 'error'] as const)[index % 4]!, `body-${index}`),
      );
      recordPoll(state, { at, reason: 'timer', status: 'PENDING' });
    }
    assert.equal(state.receiptCounts.total, 5_000);
    assert.ok(state.receipts.length <= RECEIPTS_KEPT_PER_PHASE * 4, `${state.receipts.length} receipts kept`);
    assert.ok(state.seenBodies.length <= BODY_HASHES_KEPT);
    assert.equal(state.polls.length, POLLS_KEPT);
    assert.equal(state.pollCount, 5_000);
    assert.ok(JSON.stringify(state).length < 20_000, 'the state stays small');
  });

  it('shows a view and a markdown timeline', () => {
    const state = newTaskState('t1', 'music', at, 'Summer Breeze');
    recordCallback(state, callback('text', 'b1'));
    const view = toView(state, 'music-task-t1');
    assert.equal(view.workflowId, 'music-task-t1');
    assert.equal(view.summary, 'Summer Breeze');
    assert.deepEqual(view.receipts, [{ callbackType: 'text', receivedAt: at, duplicate: false }]);
    assert.match(describeProgress(state), /status: \*\*TEXT_SUCCESS\*\*/);
    assert.match(describeProgress(state), /callbacks: 1 \(0 duplicate\) — text ×1/);
  });
});
