import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { ProviderError } from '../../src/provider/errors.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { errorCallback, songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { startStack, type Stack } from '../support/stack.ts';

/** History events of a task's workflow, all runs. */
async function historyEvents(stack: Stack, taskId: string) {
  const history = await stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).fetchHistory();
  return history.events ?? [];
}

describe('musicTask (real Temporal, fake provider)', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    await media.start();
    // Polls are far off unless a test shortens them: every query counted here is a confirmation.
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '1m' },
    });
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  async function tracked(kind: 'music' = 'music') {
    const taskId = await provider.submit(kind);
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind });
    assert.equal(put.status, 201);
    return { taskId, result: media.songResult(taskId) };
  }

  it('goes PENDING → TEXT → FIRST → SUCCESS, confirms once and stores every file', async () => {
    const { taskId, result } = await tracked();
    assert.equal(put(await stack.postCallback('music', songCallback('text', taskId))), 200);
    await stack.waitForTask(taskId, (view) => view.status === 'TEXT_SUCCESS');
    assert.equal(put(await stack.postCallback('music', songCallback('first', taskId, result))), 200);
    await stack.waitForTask(taskId, (view) => view.status === 'FIRST_SUCCESS');
    provider.set(taskId, 'music', 'SUCCESS', result);
    assert.equal(put(await stack.postCallback('music', songCallback('complete', taskId, result, true))), 200);

    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.status, 'SUCCESS');
    assert.equal(provider.queryCount(taskId), 1, 'one confirming query, no polls');
    assert.equal(view.assets.length, 4);
    for (const asset of view.assets) {
      const bytes = await readFile(asset.path);
      assert.equal(asset.bytes, bytes.length);
      assert.equal(asset.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.deepEqual(bytes, MediaServer.body(new URL(asset.sourceUrl).pathname));
    }
    assert.deepEqual(
      view.receipts.map((receipt) => [receipt.callbackType, receipt.duplicate]),
      [
        ['text', false],
        ['first', false],
        ['complete', false],
      ],
    );
    const events = await historyEvents(stack, taskId);
    // Three callbacks, one confirming query, four stores and the catalog write (a local activity).
    assert.ok(events.length <= 60, `history stays small: ${events.length} events`);
    console.log(`history events for a song task with callbacks: ${events.length}`);
  });

  it('records five concurrent duplicates of each phase once and downloads each file once', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    for (const phase of ['text', 'first', 'complete'] as const) {
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => stack.postCallback('music', songCallback(phase, taskId, result))),
      );
      assert.deepEqual(answers.map(put), [200, 200, 200, 200, 200]);
    }
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.receiptCounts.total, 15);
    assert.equal(view.receiptCounts.duplicates, 12);
    assert.equal(view.receipts.filter((receipt) => !receipt.duplicate).length, 3);
    assert.equal(provider.queryCount(taskId), 1);
    for (const asset of view.assets) assert.equal(media.downloads.get(new URL(asset.sourceUrl).pathname), 1);
  });

  it('accepts phases out of order and never moves backwards', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('first', taskId, result));
    await stack.waitForTask(taskId, (view) => view.status === 'FIRST_SUCCESS');
    await stack.postCallback('music', songCallback('text', taskId));
    const stillFirst = await stack.waitForTask(taskId, (view) => view.receiptCounts.total === 2);
    assert.equal(stillFirst.status, 'FIRST_SUCCESS');
    assert.equal(stillFirst.receipts.at(-1)?.duplicate, true);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const done = await stack.waitForTask(taskId, (view) => view.ready);
    await stack.postCallback('music', songCallback('first', taskId, result, true));
    assert.equal(done.status, 'SUCCESS');
  });

  it('does not trust a premature complete: not ready until a query confirms SUCCESS', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'FIRST_SUCCESS', {});
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const waiting = await stack.waitForTask(taskId, (view) => view.pollCount === 1);
    assert.equal(waiting.status, 'FIRST_SUCCESS');
    assert.equal(waiting.ready, false);
    assert.equal(waiting.polls[0]?.reason, 'confirm');
    provider.set(taskId, 'music', 'SUCCESS', result);
    // The real completion comes as a new body: it asks for a new confirmation.
    await stack.postCallback('music', songCallback('complete', taskId, result, true));
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.status, 'SUCCESS');
    assert.equal(provider.queryCount(taskId), 2);
  });

  it('confirms a failure callback and keeps the provider code and message', async () => {
    const { taskId } = await tracked();
    provider.set(
      taskId,
      'music',
      'GENERATE_AUDIO_FAILED',
      {},
      { code: 'GENERATE_AUDIO_FAILED', message: 'The prompt contains an artist name.' },
    );
    assert.equal(put(await stack.postCallback('music', errorCallback(taskId))), 200);
    const view = await stack.waitForTask(taskId, (task) => task.status !== 'PENDING');
    assert.equal(view.status, 'GENERATE_AUDIO_FAILED');
    assert.equal(view.ready, false);
    assert.deepEqual(view.error, {
      code: 'GENERATE_AUDIO_FAILED',
      message: 'The prompt contains an artist name.',
    });
  });

  it('answers the status query after the workflow completed (a replay from the full history)', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    // The result is the view, with the task's final events beside it (for its event stream).
    const { eventLog, ...final } = await handle.result();
    assert.equal(eventLog?.ended, true);
    assert.equal(eventLog?.events.at(-1)?.type, 'ready');
    // What `temporal workflow query --type status` does for a finished task: no cached run answers.
    assert.deepEqual(await handle.query<TaskView>('status'), final);
  });

  it('acknowledges a late duplicate after the workflow closed without starting a new run', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    await stack.waitForTask(taskId, (view) => view.ready);
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    await handle.result();
    const before = await handle.describe();
    const late = await stack.postCallback('music', songCallback('complete', taskId, result));
    assert.equal(late.status, 200);
    assert.equal(late.body.status, 'ignored_task_closed');
    const afterwards = await handle.describe();
    assert.equal(afterwards.runId, before.runId);
    assert.equal(afterwards.status.name, 'COMPLETED');
  });

  it('starts tracking from a callback that arrives before the task is tracked', async () => {
    const taskId = await provider.submit('music');
    const result = media.songResult(taskId);
    await stack.postCallback('music', songCallback('text', taskId));
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    assert.equal(put.status, 200, 'already tracked');
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.receiptCounts.total, 2);
  });

  it('refuses forged callbacks before they reach Temporal', async () => {
    const { taskId, result } = await tracked();
    // Let the first workflow task finish, so the history only grows if a callback got through.
    await stack.waitForTask(taskId, (view) => !!view.nextPollAt);
    const before = (await historyEvents(stack, taskId)).length;
    const forged = await stack.postCallback('music', songCallback('complete', taskId, result), 'wrong-token');
    const missing = await stack.postCallback('music', songCallback('complete', taskId, result), null);
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error, 'unauthorized');
    assert.equal(missing.status, 401);
    const afterwards = await historyEvents(stack, taskId);
    assert.equal(afterwards.length, before);
    assert.ok(!afterwards.some((event) => event.workflowExecutionSignaledEventAttributes));
    const view = (await stack.api('GET', `/v1/tasks/${taskId}`)).body;
    assert.equal(view.receiptCounts.total, 0);
    await stack.api('DELETE', `/v1/tasks/${taskId}`);
  });

  it('cancels tracking: the workflow closes as Canceled, its view stays readable, a second cancel is quiet', async () => {
    const { taskId } = await tracked();
    const cancel = await stack.api('DELETE', `/v1/tasks/${taskId}`);
    assert.equal(cancel.status, 202);
    assert.equal(cancel.body.status, 'CANCELLING');
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    await assert.rejects(
      handle.result(),
      (error: Error) => (error.cause as Error | undefined)?.name === 'CancelledFailure',
    );
    assert.equal((await handle.describe()).status.name, 'CANCELLED', "Temporal's own Canceled status");
    const view = (await stack.api('GET', `/v1/tasks/${taskId}`)).body;
    assert.equal(view.status, 'CANCELLED');
    assert.equal(view.ready, false);
    assert.equal(view.taskId, taskId);
    assert.ok(Array.isArray(view.polls), 'the recorded view, not a stub');
    assert.equal(view.error, undefined);
    const again = await stack.api('DELETE', `/v1/tasks/${taskId}`);
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'CANCELLED');
    assert.equal((await stack.api('DELETE', '/v1/tasks/never-seen')).status, 404);
  });

  it('refuses to cancel a finished task, saying it finished and nothing changed', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    await stack.waitForTask(taskId, (view) => view.ready);
    const refused = await stack.api('DELETE', `/v1/tasks/${taskId}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'task_already_finished');
    assert.match(refused.body.message, /already finished \(SUCCESS, ready\): nothing was changed/);
    const view = (await stack.api('GET', `/v1/tasks/${taskId}`)).body;
    assert.equal(view.ready, true, 'still ready');
  });

  it('takes the raw provider body as a `callback` signal too, and shrugs off garbage signals', async () => {
    const { taskId, result } = await tracked();
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    await handle.signal('callback', { nonsense: true });
    await handle.signal('callback', 42);
    await handle.signal('callback', songCallback('text', taskId));
    await stack.waitForTask(taskId, (view) => view.status === 'TEXT_SUCCESS');
    provider.set(taskId, 'music', 'SUCCESS', result);
    await handle.signal('callback', songCallback('complete', taskId, result, true));
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.receiptCounts.total, 2);
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
  });

  it('knows one body for a duplicate whichever way it arrives: through the webhook, then signalled raw', async () => {
    const { taskId, result } = await tracked();
    // A `complete` is judged by its body alone (a phase already passed would be a duplicate anyway).
    const body = songCallback('complete', taskId, result, true);
    assert.equal(put(await stack.postCallback('music', body)), 200);
    await stack.waitForTask(taskId, (view) => view.pollCount === 1);
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    // Round-tripped through JSON, as the webhook's parser saw it.
    await handle.signal('callback', JSON.parse(JSON.stringify(body)));
    const view = await stack.waitForTask(taskId, (task) => task.receiptCounts.total === 2);
    assert.deepEqual(
      view.receipts.map((receipt) => receipt.duplicate),
      [false, true],
    );
    assert.equal(provider.queryCount(taskId), 1, 'the duplicate asked for no second confirmation');
    await handle.cancel();
  });

  it('answers 404 for a task it does not track', async () => {
    const missing = await stack.api('GET', '/v1/tasks/never-seen-task');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'task_not_found');
  });

  it('fails the task clearly when a stored file is gone at the source', async () => {
    const { taskId, result } = await tracked();
    media.gone.add(`/${taskId}/b.png`);
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const view = await stack.waitForTask(taskId, (task) => !!task.error);
    assert.equal(view.status, 'SUCCESS');
    assert.equal(view.ready, false);
    assert.equal(view.error?.code, 'AssetGone');
    assert.match(view.error?.message ?? '', /gone \(HTTP 404\)/);
  });

  it('ends a task whose catalog write fails as not ready, with the reason, without failing the workflow', async () => {
    const refusing = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '1m' },
      workerCatalog: {
        recordTask: () =>
          Promise.reject(ApplicationFailure.nonRetryable('the catalog is read-only', 'CatalogReadOnly')),
        listTracks: () => Promise.reject(new Error('unused')),
        getAsset: () => Promise.reject(new Error('unused')),
        countRows: () => Promise.reject(new Error('unused')),
        close: () => Promise.resolve(),
      },
    });
    try {
      const taskId = await provider.submit('music');
      await refusing.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
      const result = media.songResult(taskId);
      provider.set(taskId, 'music', 'SUCCESS', result);
      await refusing.postCallback('music', songCallback('complete', taskId, result));
      const view = await refusing.waitForTask(taskId, (task) => !!task.error);
      assert.equal(view.status, 'SUCCESS');
      assert.equal(view.ready, false);
      assert.deepEqual(view.error, { code: 'CatalogFailed', message: 'the catalog is read-only' });
      const description = await refusing.client.workflow.getHandle(musicTaskWorkflowId(taskId)).describe();
      assert.equal(description.status.name, 'COMPLETED');
    } finally {
      await refusing.close();
    }
  });

  it('answers status reads while a slow provider is confirming, then stores the files', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    provider.queryDelayMs = 1_500;
    try {
      await stack.postCallback('music', songCallback('complete', taskId, result));
      const views: TaskView[] = [];
      for (let i = 0; i < 6; i++) {
        const read = await stack.api('GET', `/v1/tasks/${taskId}`);
        views.push(read.body as TaskView);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      assert.deepEqual(
        views.filter((view) => view.error).map((view) => view.error),
        [],
        'every read answered from the workflow',
      );
      const view = await stack.waitForTask(taskId, (task) => task.ready);
      assert.equal(view.assets.length, 4);
    } finally {
      provider.queryDelayMs = 0;
    }
  });

  it('retries an unavailable provider on the server (one scheduled call, no workflow timers)', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    provider.queryErrors.push(
      new ProviderError('ProviderUnavailable', 500, 'Internal error'),
      new ProviderError('ProviderUnavailable', 503, 'Service unavailable'),
    );
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const view = await stack.waitForTask(taskId, (task) => task.ready, 20_000);
    assert.equal(provider.queryCount(taskId), 3, 'two failed attempts, then the confirmation');
    const events = await historyEvents(stack, taskId);
    const signalled = events.findIndex((event) => event.workflowExecutionSignaledEventAttributes);
    const after = events.slice(signalled);
    const queries = after.filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'queryProvider',
    );
    assert.equal(queries.length, 1, 'the retries are attempts of one activity');
    const started = after.find((event) => event.activityTaskStartedEventAttributes);
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 3);
    assert.deepEqual(
      after.filter((event) => event.timerStartedEventAttributes).length,
      0,
      'no timer is started for a retry',
    );
    assert.equal(view.status, 'SUCCESS');
  });

  it('retries a query the provider rate-limits, and confirms once it answers', async () => {
    const { taskId, result } = await tracked();
    provider.set(taskId, 'music', 'SUCCESS', result);
    provider.queryErrors.push(
      new ProviderError('ProviderRateLimited', 430, 'Your call frequency is too high.', {
        retryAfterMs: 200,
      }),
    );
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.status, 'SUCCESS');
    assert.equal(provider.queryCount(taskId), 2);
  });
});

function put(answer: { status: number }): number {
  return answer.status;
}
