import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTask } from '../../src/cli/render.ts';
import { shownUrl, terminalEvent, webhookIdFor } from '../../src/notifications/events.ts';
import { describeProgress, newTaskState, toView } from '../../src/workflows/state.ts';

describe('notification events (pure)', () => {
  it('name the terminal event of each way a task settles', () => {
    assert.equal(terminalEvent({ ready: true, status: 'SUCCESS' }), 'task.ready');
    assert.equal(terminalEvent({ ready: false, status: 'SUCCESS' }), 'task.failed', 'stored files failed');
    assert.equal(terminalEvent({ ready: false, status: 'GENERATE_AUDIO_FAILED' }), 'task.failed');
    assert.equal(terminalEvent({ ready: false, status: 'TIMED_OUT' }), 'task.timed_out');
    assert.equal(terminalEvent({ ready: false, status: 'CANCELLED' }), 'task.cancelled');
  });

  it('derive the webhook-id from the task and the event alone', () => {
    assert.equal(webhookIdFor('3c1e0a6b9f2d', 'task.ready'), 'msg_3c1e0a6b9f2d_ready');
    assert.equal(webhookIdFor('3c1e0a6b9f2d', 'task.timed_out'), 'msg_3c1e0a6b9f2d_timed_out');
    assert.notEqual(webhookIdFor('a', 'task.ready'), webhookIdFor('b', 'task.ready'));
  });

  it('record the URL without credentials, query or fragment', () => {
    assert.equal(
      shownUrl('https://user:pw@app.example/hooks/music?token=s3cret#x'),
      'https://app.example/hooks/music',
    );
    assert.equal(shownUrl('http://127.0.0.1:9000/h'), 'http://127.0.0.1:9000/h');
  });

  it('show in the view, the Temporal UI details and `status` only for a task that notifies', () => {
    const state = newTaskState('abc', 'music', '2026-12-02T00:00:00.000Z');
    assert.equal('notification' in toView(state, 'music-task-abc'), false);
    assert.doesNotMatch(describeProgress(state), /notification/);
    state.status = 'TIMED_OUT';
    state.notification = {
      event: 'task.timed_out',
      webhookId: 'msg_abc_timed_out',
      url: 'https://app.example/hooks',
      status: 'failed',
      error: { code: 'NotifyGivenUp', message: 'no 2xx within 86400 s; last attempt: HTTP 500' },
    };
    const view = toView(state, 'music-task-abc');
    assert.deepEqual(view.notification, state.notification);
    assert.match(
      describeProgress(state),
      /- notification `task\.timed_out` to https:\/\/app\.example\/hooks: \*\*failed\*\* — `NotifyGivenUp` no 2xx/,
    );
    assert.match(
      describeTask(view),
      /notified {3}task\.timed_out to https:\/\/app\.example\/hooks: failed \(NotifyGivenUp: no 2xx/,
    );
  });
});
