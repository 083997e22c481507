/**
 * Replays recorded workflow histories against today's workflow code, so a change that breaks
 * determinism fails CI. `RECORD_HISTORIES=1 node --import tsx test/run.ts replay` records today's
 * scenarios again (commit them). Nothing has been released, so no older version is kept.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { errorCallback, songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack } from '../support/stack.ts';
import { NotifyReceiver } from '../notifications/receiver.ts';

const historiesDir = join(import.meta.dirname, '..', 'fixtures', 'histories');

/** Payloads name the test's scratch folder (asset paths): keep the recorded files free of machine paths. */
export function withoutMachinePaths(json: string): string {
  const scratch = new RegExp(
    `${tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/music-tasks-test-[A-Za-z0-9]+`,
    'g',
  );
  return json.replace(/"data": ?"([A-Za-z0-9+/=]+)"/g, (match, encoded: string) => {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const cleaned = decoded.replace(scratch, '/data');
    if (cleaned === decoded) return match;
    return `"data":"${Buffer.from(cleaned, 'utf8').toString('base64')}"`;
  });
}

/** Runs the scenarios whose histories are kept, and writes each history as JSON. */
async function record(): Promise<void> {
  const provider = new FakeProvider();
  const media = await new MediaServer().start();
  const notifySecret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  const receiver = await new NotifyReceiver(notifySecret).start();
  const stack = await startStack({
    provider,
    env: {
      POLL_INTERVAL: '200ms',
      POLL_MAX_INTERVAL: '400ms',
      NOTIFY_SECRET: notifySecret,
      FETCH_ALLOWED_ORIGINS: [media.url, receiver.origin].join(','),
    },
  });
  const save = async (name: string, taskId: string) => {
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    // A cancelled task closes as Canceled since canceled-status-v1: its result is that failure.
    await handle.result().catch((error: unknown) => {
      if ((error as { cause?: Error }).cause?.name !== 'CancelledFailure') throw error;
    });
    const tag = process.env.RECORD_HISTORIES;
    const file = tag && tag !== '1' ? `${name}.${tag}.json` : `${name}.json`;
    writeFileSync(join(historiesDir, file), withoutMachinePaths(historyToJSON(await handle.fetchHistory())));
  };
  try {
    const withCallbacks = await provider.submit('music');
    const result = media.songResult(withCallbacks);
    await stack.api('PUT', `/v1/tasks/${withCallbacks}`, { kind: 'music' });
    await stack.postCallback('music', songCallback('text', withCallbacks));
    await stack.postCallback('music', songCallback('first', withCallbacks, result));
    await stack.postCallback('music', songCallback('first', withCallbacks, result));
    provider.set(withCallbacks, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', withCallbacks, result, true));
    await save('song-with-callbacks', withCallbacks);

    const polled = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${polled}`, { kind: 'music' });
    await stack.waitForTask(polled, (view) => view.pollCount >= 2);
    provider.set(polled, 'music', 'SUCCESS', media.songResult(polled));
    await save('song-polled', polled);

    const failed = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${failed}`, { kind: 'music' });
    provider.set(
      failed,
      'music',
      'GENERATE_AUDIO_FAILED',
      {},
      { code: 'GENERATE_AUDIO_FAILED', message: 'artist name' },
    );
    await stack.postCallback('music', errorCallback(failed));
    await save('song-failed', failed);

    const cancelled = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${cancelled}`, { kind: 'music' });
    await stack.api('DELETE', `/v1/tasks/${cancelled}`);
    await save('song-cancelled', cancelled);

    // With a notifyUrl: the terminal event's delivery, after the store and after a cancellation.
    const notified = await provider.submit('music');
    const notifiedResult = media.songResult(notified);
    await stack.api('PUT', `/v1/tasks/${notified}`, { kind: 'music', notifyUrl: receiver.url });
    provider.set(notified, 'music', 'SUCCESS', notifiedResult);
    await stack.postCallback('music', songCallback('complete', notified, notifiedResult, true));
    await save('song-notified', notified);

    const cancelledNotified = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${cancelledNotified}`, { kind: 'music', notifyUrl: receiver.url });
    await stack.api('DELETE', `/v1/tasks/${cancelledNotified}`);
    await save('song-cancelled-notified', cancelledNotified);
  } finally {
    await stack.close();
    await receiver.stop();
    await media.close();
  }
}

describe('recorded histories replay deterministically', () => {
  it('replays every history under test/fixtures/histories', async () => {
    if (process.env.RECORD_HISTORIES) await record();
    const files = readdirSync(historiesDir).filter((file) => file.endsWith('.json'));
    assert.ok(files.length >= 6, 'histories are recorded');
    const histories = files.map((file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8'))),
    }));
    const bundlePath = process.env.TEST_WORKFLOW_BUNDLE;
    const source = bundlePath
      ? { workflowBundle: { codePath: bundlePath } }
      : { workflowsPath: join(import.meta.dirname, '..', '..', 'src', 'workflows', 'index.ts') };
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(source, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });
});
