import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

describe('musicTask with callbacks (real Temporal, fake provider)', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    await media.start();
    stack = await startStack({ provider, env: { POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '1m' } });
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  it('goes PENDING → TEXT → FIRST → SUCCESS, confirms once and stores every file', async () => {
    const taskId = await provider.submit('music');
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    assert.equal(put.status, 201);
    assert.equal(put.body.workflowId, `music-task-${taskId}`);
    const result = media.songResult(taskId);

    assert.equal((await stack.postCallback('music', songCallback('text', taskId))).status, 200);
    await stack.waitForTask(taskId, (view) => view.status === 'TEXT_SUCCESS');
    assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
    await stack.waitForTask(taskId, (view) => view.status === 'FIRST_SUCCESS');
    provider.set(taskId, 'music', 'SUCCESS', result);
    assert.equal((await stack.postCallback('music', songCallback('complete', taskId, result, true))).status, 200);

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
  });
});
