import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

describe('musicTask without callbacks: the polling fallback (real Temporal)', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { POLL_INTERVAL: '200ms', POLL_MAX_INTERVAL: '800ms', TASK_DEADLINE: '20s' },
    });
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  it('finds the result by polling when every callback is lost', async () => {
    const taskId = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    await stack.waitForTask(taskId, (view) => view.pollCount >= 2);
    provider.set(taskId, 'music', 'TEXT_SUCCESS');
    await stack.waitForTask(taskId, (view) => view.status === 'TEXT_SUCCESS');
    provider.set(taskId, 'music', 'SUCCESS', media.songResult(taskId));
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.status, 'SUCCESS');
    assert.equal(view.assets.length, 4);
    assert.ok(view.polls.every((poll) => poll.reason === 'timer'));
    assert.equal(view.receipts.length, 0);
  });

  it('fails a task the provider keeps saying it does not know', async () => {
    const put = await stack.api('PUT', '/v1/tasks/nosuchtask0001', { kind: 'wav' });
    assert.equal(put.status, 201);
    const view = await stack.waitForTask('nosuchtask0001', (task) => task.status !== 'PENDING');
    assert.equal(view.error?.code, 'ProviderTaskNotFound');
  });

  it('survives a worker killed mid-task: the restarted worker picks the task up', async () => {
    const taskId = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    await stack.waitForTask(taskId, (view) => view.pollCount >= 1);
    await stack.stopWorker();
    provider.set(taskId, 'music', 'SUCCESS', media.songResult(taskId));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stack.startWorker();
    const view = await stack.waitForTask(taskId, (task) => task.ready);
    assert.equal(view.status, 'SUCCESS');
  });

  it('still answers GET from the search attributes while no worker runs', async () => {
    const taskId = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    await stack.waitForTask(taskId, (view) => view.pollCount >= 1);
    await stack.stopWorker();
    try {
      const view = await stack.api('GET', `/v1/tasks/${taskId}`);
      assert.equal(view.status, 200);
      assert.equal(view.body.status, 'PENDING');
      assert.equal(view.body.error.code, 'status_unavailable');
    } finally {
      await stack.startWorker();
    }
    await stack.api('DELETE', `/v1/tasks/${taskId}`);
  });

  it('refuses a PUT whose kind differs from the tracked one', async () => {
    const taskId = await provider.submit('music');
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' })).status, 201);
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' })).status, 200);
    const conflict = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'wav' });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error, 'kind_mismatch');
    await stack.api('DELETE', `/v1/tasks/${taskId}`);
  });
});
