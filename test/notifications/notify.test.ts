/**
 * Notifications end to end: real Temporal, the HTTP API, a fake provider, and a receiver on
 * 127.0.0.1 that verifies every delivery with the `standardwebhooks` library.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { SAMPLE_INPUTS } from '../support/inputs.ts';
import { errorCallback, songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { freePort } from '../support/ports.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { NotifyReceiver } from './receiver.ts';

const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;

async function workflowStatus(stack: Stack, taskId: string): Promise<string> {
  return (await stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).describe()).status.name;
}

async function waitForClose(stack: Stack, taskId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await workflowStatus(stack, taskId);
    if (status !== 'RUNNING' || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function historyActivities(stack: Stack, taskId: string): Promise<string[]> {
  const history = await stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
}

const notified = (view: TaskView) => view.notification?.status === 'delivered';

describe('notifications to the app (real Temporal, fake provider)', () => {
  const provider = new FakeProvider();
  const media = new MediaServer();
  const receiver = new NotifyReceiver(SECRET);
  /** Nothing listens here until the test says so. */
  let downPort: number;
  let stack: Stack;

  before(async () => {
    await media.start();
    await receiver.start();
    downPort = await freePort();
    stack = await startStack({
      provider,
      env: {
        POLL_INTERVAL: '30s',
        POLL_MAX_INTERVAL: '1m',
        NOTIFY_SECRET: SECRET,
        NOTIFY_RETRY_INTERVAL: '300ms',
        NOTIFY_RETRY_MAX_INTERVAL: '1s',
        NOTIFY_RETRY_FOR: '2m',
        NOTIFY_TIMEOUT: '2s',
        PUBLIC_BASE_URL: 'https://music.example',
        FETCH_ALLOWED_ORIGINS: [media.url, receiver.origin, `http://127.0.0.1:${downPort}`].join(','),
      },
    });
  });
  after(async () => {
    await stack.close();
    await receiver.stop();
    await media.close();
  });

  async function tracked(notifyUrl?: string) {
    const taskId = await provider.submit('music');
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, {
      kind: 'music',
      ...(notifyUrl ? { notifyUrl } : {}),
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    return taskId;
  }

  const deliveriesOf = (taskId: string) =>
    receiver.deliveries.filter((delivery) => delivery.payload.data.taskId === taskId);

  it('task.ready: one verified delivery with the view and the assets, then the workflow closes', async () => {
    const taskId = await tracked(receiver.url);
    const result = media.songResult(taskId);
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    await receiver.waitFor(() => deliveriesOf(taskId).length === 1);
    const [delivery] = deliveriesOf(taskId);
    assert.equal(delivery!.webhookId, `msg_${taskId}_ready`);
    const { type, data } = delivery!.payload;
    assert.equal(type, 'task.ready');
    assert.equal(data.status, 'SUCCESS');
    assert.equal(data.ready, true);
    assert.equal(data.kind, 'music');
    assert.equal(data.assets.length, 4);
    for (const asset of data.assets) {
      assert.equal(asset.url, `/v1/assets/${encodeURIComponent(asset.id)}`);
      assert.equal(asset.absoluteUrl, `https://music.example${asset.url}`);
      assert.match(asset.sha256, /^[0-9a-f]{64}$/);
    }
    const view = await stack.waitForTask(taskId, notified);
    assert.deepEqual(
      {
        event: view.notification?.event,
        webhookId: view.notification?.webhookId,
        url: view.notification?.url,
      },
      { event: 'task.ready', webhookId: `msg_${taskId}_ready`, url: `${receiver.origin}/hooks/music` },
    );
    assert.equal(await waitForClose(stack, taskId), 'COMPLETED');
    assert.equal((await stack.api('GET', `/v1/tasks/${taskId}`)).body.notification.status, 'delivered');
  });

  it('task.failed, for a task told its notifyUrl by a second PUT while it runs', async () => {
    const taskId = await tracked();
    const again = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music', notifyUrl: receiver.url });
    assert.equal(again.status, 200);
    provider.set(
      taskId,
      'music',
      'GENERATE_AUDIO_FAILED',
      {},
      { code: 'GENERATE_AUDIO_FAILED', message: 'no luck' },
    );
    await stack.postCallback('music', errorCallback(taskId));
    await receiver.waitFor(() => deliveriesOf(taskId).length === 1);
    const { payload, webhookId } = deliveriesOf(taskId)[0]!;
    assert.equal(webhookId, `msg_${taskId}_failed`);
    assert.equal(payload.type, 'task.failed');
    assert.equal(payload.data.status, 'GENERATE_AUDIO_FAILED');
    assert.equal(payload.data.ready, false);
    assert.equal(payload.data.error?.code, 'GENERATE_AUDIO_FAILED');
    await stack.waitForTask(taskId, notified);
  });

  it('task.cancelled: delivered although cancelled, and the workflow still closes as Canceled', async () => {
    const taskId = await tracked(receiver.url);
    assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    await receiver.waitFor(() => deliveriesOf(taskId).length === 1);
    assert.equal(deliveriesOf(taskId)[0]!.payload.type, 'task.cancelled');
    assert.equal(deliveriesOf(taskId)[0]!.payload.data.status, 'CANCELLED');
    assert.equal(await waitForClose(stack, taskId), 'CANCELLED');
    const view = await stack.waitForTask(taskId, notified);
    assert.equal(view.status, 'CANCELLED');
  });

  it('a task with no notifyUrl (and no NOTIFY_URL) sends nothing and schedules no delivery', async () => {
    const taskId = await tracked();
    assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    assert.equal(await waitForClose(stack, taskId), 'CANCELLED');
    const view = (await stack.api('GET', `/v1/tasks/${taskId}`)).body as TaskView;
    assert.equal(view.notification, undefined);
    assert.ok(!(await historyActivities(stack, taskId)).includes('deliverNotification'));
    assert.equal(deliveriesOf(taskId).length, 0);
  });

  it('a receiver down (refused, then 500s) and then up gets exactly one accepted delivery, one webhook-id', async () => {
    const down = new NotifyReceiver(SECRET);
    const taskId = await tracked(`http://127.0.0.1:${downPort}/hooks?app=token`);
    assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    // Connections refused: attempts fail and are retried, the task says it is still delivering.
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const pending = (await handle.describe()).raw.pendingActivities?.[0];
      if ((pending?.attempt ?? 0) >= 3) {
        assert.match(pending?.lastFailure?.message ?? '', /ECONNREFUSED/);
        break;
      }
      assert.ok(Date.now() < deadline, 'three refused attempts within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await stack.api('GET', `/v1/tasks/${taskId}`)).body.notification.status, 'delivering');
    down.answers.push(500, 500, 500);
    await down.start(downPort);
    try {
      await down.waitFor((seen) => seen.some((delivery) => delivery.status === 204));
      const view = await stack.waitForTask(taskId, notified);
      assert.equal(await waitForClose(stack, taskId), 'CANCELLED');
      // Anything sent after the 2xx would have arrived by now.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.deepEqual(
        down.deliveries.map((delivery) => delivery.status),
        [500, 500, 500, 204],
      );
      assert.deepEqual(
        [...new Set(down.deliveries.map((delivery) => delivery.webhookId))],
        [`msg_${taskId}_cancelled`],
      );
      assert.equal(new Set(down.deliveries.map((delivery) => JSON.stringify(delivery.payload))).size, 1);
      assert.equal(down.forged.length, 0, 'every attempt verified');
      assert.equal(view.notification?.webhookId, `msg_${taskId}_cancelled`);
    } finally {
      await down.stop();
    }
  });

  it('a name resolving to a non-public address is refused at delivery and recorded at once, not retried', async () => {
    const started = Date.now();
    const taskId = await tracked(`http://localhost:${receiver.port}/hooks`);
    assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    const view = await stack.waitForTask(taskId, (task) => task.notification?.status === 'failed');
    assert.equal(view.notification?.error?.code, 'NotifyRefused');
    assert.match(view.notification?.error?.message ?? '', /non-public address.*FETCH_ALLOWED_ORIGINS/);
    assert.ok(Date.now() - started < 60_000, 'well before NOTIFY_RETRY_FOR (2m)');
    assert.equal(await waitForClose(stack, taskId), 'CANCELLED');
    assert.equal(deliveriesOf(taskId).length, 0);
  });

  it('refuses a literal non-public notifyUrl with a 400 and starts nothing', async () => {
    const submitsBefore = provider.submits;
    for (const notifyUrl of [
      'http://10.0.0.8/hooks',
      'http://169.254.169.254/latest',
      'http://[::1]:9/x',
      'http://2130706433/',
    ]) {
      const key = `refused-${Math.random().toString(36).slice(2)}`;
      const answer = await stack.api('POST', '/v1/tasks', {
        kind: 'music',
        input: SAMPLE_INPUTS.music,
        idempotencyKey: key,
        notifyUrl,
      });
      assert.equal(answer.status, 400, notifyUrl);
      assert.equal(answer.body.error, 'notify_url_refused');
      assert.match(answer.body.message, /FETCH_ALLOWED_ORIGINS/);
      assert.equal((await stack.api('GET', `/v1/submissions/${key}`)).status, 404);
      const taskId = `never${Math.random().toString(36).slice(2, 8)}`;
      const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music', notifyUrl });
      assert.equal(put.status, 400);
      assert.equal(put.body.error, 'notify_url_refused');
      await assert.rejects(
        stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).describe(),
        WorkflowNotFoundError,
      );
    }
    const notHttp = await stack.api('POST', '/v1/tasks', {
      kind: 'music',
      input: SAMPLE_INPUTS.music,
      notifyUrl: 'file:///etc/passwd',
    });
    assert.equal(notHttp.status, 400);
    assert.equal(notHttp.body.error, 'invalid_request');
    assert.equal(provider.submits, submitsBefore, 'the provider was never called');
  });

  it('a submitted task (POST /v1/tasks with notifyUrl) notifies too', async () => {
    const answer = await stack.submit({ kind: 'music', input: SAMPLE_INPUTS.music, notifyUrl: receiver.url });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const taskId: string = answer.body.taskId;
    assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    await receiver.waitFor(() => deliveriesOf(taskId).length === 1);
    assert.equal(deliveriesOf(taskId)[0]!.payload.type, 'task.cancelled');
  });

  it('a settled task still notifying cannot be cancelled: 409, nothing changed', async () => {
    const slow = new NotifyReceiver(SECRET);
    const taskId = await tracked(`http://127.0.0.1:${downPort}/hooks`);
    const result = media.songResult(taskId);
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    await stack.waitForTask(taskId, (view) => view.notification?.status === 'delivering');
    const refused = await stack.api('DELETE', `/v1/tasks/${taskId}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'task_already_finished');
    await slow.start(downPort);
    try {
      await stack.waitForTask(taskId, notified);
      assert.equal(await waitForClose(stack, taskId), 'COMPLETED');
      assert.equal(slow.accepted[0]?.payload.type, 'task.ready');
    } finally {
      await slow.stop();
    }
  });
});

describe('notifications: NOTIFY_URL, timeouts and giving up (real Temporal)', () => {
  const provider = new FakeProvider();
  const receiver = new NotifyReceiver(SECRET);
  const failing = new NotifyReceiver(SECRET);
  let stack: Stack;

  before(async () => {
    await receiver.start();
    await failing.start();
    failing.answers.push(...Array.from({ length: 1_000 }, () => 500));
    stack = await startStack({
      provider,
      env: {
        TASK_DEADLINE: '2s',
        POLL_INTERVAL: '30s',
        POLL_MAX_INTERVAL: '1m',
        NOTIFY_URL: receiver.url,
        NOTIFY_SECRET: SECRET,
        NOTIFY_RETRY_INTERVAL: '200ms',
        NOTIFY_RETRY_MAX_INTERVAL: '500ms',
        NOTIFY_RETRY_FOR: '4s',
        FETCH_ALLOWED_ORIGINS: [receiver.origin, failing.origin].join(','),
      },
    });
  });
  after(async () => {
    await stack.close();
    await receiver.stop();
    await failing.stop();
  });

  it('task.timed_out goes to the default NOTIFY_URL for a task that names none', async () => {
    const taskId = await provider.submit('music');
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' })).status, 201);
    await receiver.waitFor((seen) => seen.some((delivery) => delivery.payload.data.taskId === taskId));
    const delivery = receiver.deliveries.find((entry) => entry.payload.data.taskId === taskId)!;
    assert.equal(delivery.payload.type, 'task.timed_out');
    assert.equal(delivery.payload.data.status, 'TIMED_OUT');
    assert.equal(delivery.webhookId, `msg_${taskId}_timed_out`);
    assert.equal(delivery.payload.data.assets[0], undefined);
    assert.equal(await waitForClose(stack, taskId), 'COMPLETED');
  });

  it('records the final failure on the task (view and Temporal UI) when the retries run out', async () => {
    const taskId = await provider.submit('music');
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music', notifyUrl: failing.url });
    assert.equal(put.status, 201);
    assert.equal(await waitForClose(stack, taskId, 60_000), 'COMPLETED', 'the task closes: nothing is lost');
    const view = (await stack.api('GET', `/v1/tasks/${taskId}`)).body as TaskView;
    assert.equal(view.status, 'TIMED_OUT');
    assert.equal(view.notification?.status, 'failed');
    assert.equal(view.notification?.error?.code, 'NotifyGivenUp');
    assert.match(view.notification?.error?.message ?? '', /no 2xx within 4 s; last attempt: .*HTTP 500/);
    const attempts = failing.deliveries.filter((delivery) => delivery.payload.data.taskId === taskId);
    assert.ok(attempts.length >= 3, `retried before giving up (${attempts.length} attempts)`);
    assert.equal(new Set(attempts.map((delivery) => delivery.webhookId)).size, 1);
    assert.equal(
      receiver.deliveries.filter((entry) => entry.payload.data.taskId === taskId).length,
      0,
      'not to NOTIFY_URL',
    );
    // The Temporal UI shows the workflow's current details: the failure is there too.
    const metadata = await stack.client.workflow
      .getHandle(musicTaskWorkflowId(taskId))
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(
      metadata.currentDetails ?? '',
      /notification `task\.timed_out` .*\*\*failed\*\*.*NotifyGivenUp/,
    );
  });
});
