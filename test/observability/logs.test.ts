import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities, type ActivityDeps } from '../../src/activities/index.ts';
import { observeActivities } from '../../src/observability/activityInterceptors.ts';
import { PinoSdkLogger } from '../../src/observability/sdkLogger.ts';
import { createWorkerMetrics } from '../../src/observability/workerMetrics.ts';
import type { AssetSpec } from '../../src/workflows/assetPlan.ts';
import type { StoredAsset } from '../../src/workflows/state.ts';

/** A pino logger whose JSON lines land in an array. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

describe('activity logs and metrics', () => {
  it('carry taskId, kind and workflowId on every activity log line, and count the stored bytes', async () => {
    const { lines, logger } = capturedLogger();
    const metrics = createWorkerMetrics();
    const spec: AssetSpec = {
      id: 'task-7-a-audio',
      taskId: 'task-7',
      kind: 'music',
      type: 'audio',
      name: 'a.mp3',
      sourceUrl: 'http://127.0.0.1:9/a.mp3',
    };
    const stored: StoredAsset = {
      id: spec.id,
      type: 'audio',
      name: spec.name,
      sourceUrl: spec.sourceUrl,
      path: '/assets/task-7/a.mp3',
      bytes: 4321,
      sha256: 'f'.repeat(64),
    };
    const deps = {
      provider: { submit: async () => 'unused', query: async () => assert.fail('no query') },
      assets: { store: async () => stored, read: async () => assert.fail('no read') },
      callbackUrl: () => 'http://127.0.0.1:9/webhooks/music/music?token=x',
    } as unknown as ActivityDeps;
    const environment = new MockActivityEnvironment(
      { activityType: 'storeAssets', workflowExecution: { workflowId: 'music-task-task-7', runId: 'run-1' } },
      { logger: new PinoSdkLogger(logger), interceptors: [observeActivities(metrics)] },
    );
    const activities = createActivities(deps);
    assert.deepEqual(
      await environment.run(activities.storeAssets, {
        taskId: 'task-7',
        kind: 'music' as const,
        specs: [spec],
      }),
      [stored],
    );

    const line = lines.find((entry) => entry.msg === 'stored assets');
    assert.ok(line, `log lines: ${JSON.stringify(lines)}`);
    assert.equal(line.taskId, 'task-7');
    assert.equal(line.kind, 'music');
    assert.equal(line.workflowId, 'music-task-task-7');
    assert.equal(line.bytes, 4321);
    assert.equal(line.level, 30, 'info');

    const text = await metrics.registry.metrics();
    assert.match(text, /music_postprocess_bytes_total\{kind="music",type="audio"\} 4321/);
    assert.match(text, /music_postprocess_assets_total\{kind="music",type="audio"\} 1/);
  });
});
