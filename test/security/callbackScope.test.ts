/**
 * Attacks with a callback URL in hand: a callback of another kind, a body naming another task, a
 * made-up task id. Real Temporal, real HTTP, the test's own provider.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { SAMPLE_INPUTS } from '../support/inputs.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';

/** POSTs a JSON body to a full URL. */
async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('security: a callback informs its own task only', () => {
  const provider = new FakeProvider();
  const media = new MediaServer();
  let stack: Stack;

  before(async () => {
    await media.start();
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

  /** Submits through the API; answers the task id and the callback URL the provider was given. */
  async function submit(kind: 'music' | 'lyrics' = 'music') {
    const answer = await stack.api('POST', '/v1/tasks', { kind, input: SAMPLE_INPUTS[kind] });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const taskId: string = answer.body.taskId;
    return { taskId, callbackUrl: provider.callbackUrls.get(taskId)! };
  }

  const exists = async (taskId: string) => {
    try {
      await stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  };

  it('hands the provider a URL without the webhook secret', async () => {
    const { callbackUrl } = await submit();
    assert.ok(!callbackUrl.includes(stack.secret), callbackUrl);
    assert.match(callbackUrl, /\/webhooks\/music\/music\?nonce=[^&]+&sig=[\w-]+$/);
  });

  it('ignores a callback of another kind, and never downloads a URL a callback names', async () => {
    const { taskId } = await provider.submit('lyrics').then((id) => ({ taskId: id }));
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'lyrics' })).status, 201);
    // With the operator's own token, even: the route kind (mp4) is not the task's (lyrics).
    const forged = await stack.postCallback('mp4', {
      code: 200,
      msg: 'success',
      data: { task_id: taskId, callbackType: 'first', video_url: `${media.url}/planted/video.mp4` },
    });
    assert.equal(forged.status, 200);
    provider.set(taskId, 'lyrics', 'SUCCESS', {
      lyrics: [{ title: 'Summer', text: '[Verse]\nla la' }],
    });
    const complete = await stack.postCallback('lyrics', {
      code: 200,
      msg: 'success',
      data: {
        task_id: taskId,
        callbackType: 'complete',
        data: [{ text: '[Verse]\nla la', title: 'Summer', status: 'complete' }],
      },
    });
    assert.equal(complete.status, 200);
    const view = await stack.waitForTask(taskId, (task) => task.ready || !!task.error);
    assert.equal(view.ready, true, JSON.stringify(view.error));
    assert.deepEqual(view.assets, [], 'a lyrics task stores no file');
    assert.equal(media.downloads.get('/planted/video.mp4'), undefined, 'the planted URL was never fetched');
    assert.deepEqual(
      view.receipts.map((receipt) => receipt.callbackType),
      ['complete'],
      'the mp4 callback left no receipt',
    );
  });

  it('a leaked callback URL changes no other task, and starts no workflow for a made-up id', async () => {
    const leaked = await submit();
    const victim = await submit();
    const forged = await post(leaked.callbackUrl, {
      code: 200,
      msg: 'success',
      data: { task_id: victim.taskId, callbackType: 'first', data: [] },
    });
    assert.ok(forged.status < 500, JSON.stringify(forged));
    const madeUp = `madeup${Date.now()}`;
    const invented = await post(leaked.callbackUrl, {
      code: 200,
      msg: 'success',
      data: { task_id: madeUp, callbackType: 'text', data: [] },
    });
    assert.ok(invented.status < 500, JSON.stringify(invented));
    // A genuine callback through the victim's own URL still works, and is the only receipt it has.
    const own = await post(victim.callbackUrl, {
      code: 200,
      msg: 'success',
      data: { task_id: victim.taskId, callbackType: 'text', data: [] },
    });
    assert.equal(own.status, 200);
    const view = await stack.waitForTask(victim.taskId, (task) => task.receiptCounts.total >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const settled = await stack.waitForTask(victim.taskId, () => true);
    assert.equal(settled.status, 'TEXT_SUCCESS', 'the forged `first` did not move it');
    assert.deepEqual(
      settled.receipts.map((receipt) => receipt.callbackType),
      ['text'],
      `only its own callback: ${JSON.stringify(view.receipts)}`,
    );
    assert.equal(await exists(madeUp), false, 'no workflow for a made-up task id');
  });

  it('keeps a callback that beats the submit answer', async () => {
    provider.beforeAnswer = async (taskId, callbackUrl) => {
      const early = await post(callbackUrl, {
        code: 200,
        msg: 'success',
        data: { task_id: taskId, callbackType: 'text', data: [] },
      });
      assert.equal(early.status, 200, JSON.stringify(early));
    };
    try {
      const { taskId } = await submit();
      const view = await stack.waitForTask(taskId, (task) => task.receiptCounts.total >= 1, 15_000);
      assert.equal(view.status, 'TEXT_SUCCESS');
    } finally {
      provider.beforeAnswer = undefined;
    }
  });

  it('gives a task tracked with PUT a callback URL for that task alone', async () => {
    const taskId = await provider.submit('music');
    const tracked = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    assert.equal(tracked.status, 201);
    const url: string = tracked.body.callbackUrl;
    assert.ok(url.startsWith(`${stack.config.publicBaseUrl}/webhooks/music/music?`), url);
    assert.ok(!url.includes(stack.secret));
    // The stack's app listens on another port than PUBLIC_BASE_URL says: call the path it names.
    const path = url.slice(stack.config.publicBaseUrl.length);
    const other = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${other}`, { kind: 'music' });
    const misused = await post(`${stack.apiUrl}${path}`, {
      code: 200,
      data: { task_id: other, callbackType: 'text', data: [] },
    });
    assert.equal(misused.status, 403);
    assert.equal(misused.body.error, 'callback_task_mismatch');
    const wrongKind = await post(`${stack.apiUrl}${path.replace('/music/music?', '/music/lyrics?')}`, {
      code: 200,
      data: { task_id: taskId, callbackType: 'complete', data: [] },
    });
    assert.equal(wrongKind.status, 401, 'the signature covers the route kind');
    const used = await post(`${stack.apiUrl}${path}`, {
      code: 200,
      data: { task_id: taskId, callbackType: 'text', data: [] },
    });
    assert.equal(used.status, 200);
    const view = await stack.waitForTask(taskId, (task) => task.status === 'TEXT_SUCCESS');
    assert.equal(view.receiptCounts.total, 1);
    const untouched = await stack.waitForTask(other, () => true);
    assert.equal(untouched.receiptCounts.total, 0);
  });
});
