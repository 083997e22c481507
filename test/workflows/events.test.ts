import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comparePositions, formatPosition, parsePosition, positionAt } from '../../src/events/eventIds.ts';
import {
  EVENTS_KEPT,
  eventsAfter,
  noteStatus,
  recordCallbackEvent,
  recordEnd,
  recordEvent,
  startEventLog,
  takeEventAttributes,
  unpublished,
} from '../../src/workflows/events.ts';
import { newTaskState, recordCallback } from '../../src/workflows/state.ts';

const receipt = (bodyHash: string) => ({ receivedAt: new Date().toISOString(), bodyHash });

describe('the task event log (pure)', () => {
  it('starts with tracking, records callbacks and status moves, and ends once', () => {
    const state = newTaskState('t1', 'music', new Date().toISOString(), 'Summer');
    startEventLog(state);
    startEventLog(state);
    const duplicate = recordCallback(state, {
      callback: { taskId: 't1', kind: 'music', phase: 'text', code: 200 },
      receipt: receipt('a'),
    });
    recordCallbackEvent(state, 'text', duplicate);
    noteStatus(state);
    state.status = 'GENERATE_AUDIO_FAILED';
    state.error = { code: 'GENERATE_AUDIO_FAILED', message: 'x'.repeat(2_000) };
    recordEnd(state);
    recordEnd(state);
    const page = eventsAfter(state, 0);
    assert.deepEqual(
      page.events.map((event) => [event.seq, event.type, event.status]),
      [
        [1, 'tracking', 'PENDING'],
        [2, 'callback', 'TEXT_SUCCESS'],
        [3, 'status', 'TEXT_SUCCESS'],
        [4, 'status', 'GENERATE_AUDIO_FAILED'],
        [5, 'failed', 'GENERATE_AUDIO_FAILED'],
      ],
    );
    assert.equal(page.events[0]!.summary, 'Summer');
    assert.equal(page.events[3]!.previous, 'TEXT_SUCCESS');
    assert.ok(page.events[4]!.error!.message.length <= 500);
    assert.equal(page.ended, true);
    assert.deepEqual(
      eventsAfter(state, 3).events.map((event) => event.seq),
      [4, 5],
    );
  });

  it('keeps the newest events only, with their sequence, and says what it published', () => {
    const state = newTaskState('t2', 'lyrics', new Date().toISOString());
    startEventLog(state);
    for (let index = 0; index < EVENTS_KEPT + 50; index++) recordEvent(state, 'poll', { reason: 'timer' });
    const page = eventsAfter(state, 0);
    assert.equal(page.events.length, EVENTS_KEPT);
    assert.equal(page.lastSeq, EVENTS_KEPT + 51);
    assert.equal(page.firstSeq, 52);
    assert.ok(unpublished(state));
    const published = takeEventAttributes(state);
    assert.equal(published.seq, EVENTS_KEPT + 51);
    assert.equal(published.at, Date.parse(page.events.at(-1)!.at));
    assert.ok(!unpublished(state));
  });
});

describe('event ids of the stream of all tasks', () => {
  it('round-trip, order by time, task and seq, and refuse what is not one', () => {
    const ids = ['1700000000000-abc-2', '1700000000000-abc-10', '1700000000000-b-1', '1700000000001--0'];
    const positions = ids.map((id) => parsePosition(id)!);
    assert.deepEqual(positions.map(formatPosition), ids);
    for (let index = 1; index < positions.length; index++)
      assert.ok(comparePositions(positions[index - 1]!, positions[index]!) < 0);
    assert.deepEqual(parsePosition('1700000000000-a-b-1-7'), {
      atMs: 1700000000000,
      taskId: 'a-b-1',
      seq: 7,
    });
    assert.equal(formatPosition(positionAt(5)), '5--0');
    for (const bad of ['', 'x', '1-a-0', '1--1', '1-a b-1', `1-${'a'.repeat(129)}-1`])
      assert.equal(parsePosition(bad), undefined, bad);
  });
});
