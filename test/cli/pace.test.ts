import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../../src/app.ts';
import { renderProgress, type Timelines } from '../../src/cli/progress.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { testConfig } from '../support/temporal.ts';

async function paceOf(env: Record<string, string>) {
  const config = testConfig(env);
  const connection = Connection.lazy({ address: config.temporal.address, connectTimeout: '1s' });
  const client = new Client({ connection, namespace: 'default' });
  const app = await buildApp(config, { client, connection, webhookSecrets: [config.webhookSecret!] });
  try {
    const answer = await app.inject({ method: 'GET', url: '/v1/provider' });
    assert.equal(answer.statusCode, 200);
    return answer.json<{ simulated: boolean; timeScale: number; timelines: Timelines }>();
  } finally {
    await app.close();
    await connection.close();
  }
}

const song = (status: string, submittedAgoMs: number, now: number): TaskView => ({
  taskId: 'pace-task',
  workflowId: 'music-task-pace-task',
  kind: 'music',
  status,
  ready: false,
  submittedAt: new Date(now - submittedAgoMs).toISOString(),
  updatedAt: new Date(now).toISOString(),
  assets: [],
  receipts: [],
  receiptCounts: { total: 2, duplicates: 0, byPhase: {} },
  polls: [],
  pollCount: 0,
});

describe("the provider's pace, as the CLI learns it", () => {
  it('GET /v1/provider scales the timelines by SIMULATOR_TIME_SCALE when the simulator runs', async () => {
    const fast = await paceOf({ SIMULATOR_TIME_SCALE: '0.05', MUSIC_API_BASE_URL: '' });
    assert.equal(fast.simulated, true);
    assert.equal(fast.timeScale, 0.05);
    assert.deepEqual(
      fast.timelines.music.map((phase) => phase.atMs),
      [500, 1750, 7500],
    );
    const real = await paceOf({
      SIMULATOR_TIME_SCALE: '0.05',
      MUSIC_API_BASE_URL: 'https://api.example.org',
      MUSIC_API_KEY: 'key',
    });
    assert.equal(real.simulated, false);
    assert.equal(real.timeScale, 1, 'a real provider keeps its own pace');
    assert.equal(real.timelines.music.at(-1)?.atMs, 150_000);
  });

  it('the bar and ETA follow the pace: a fast song is not given two minutes', async () => {
    const now = Date.now();
    const { timelines } = await paceOf({ SIMULATOR_TIME_SCALE: '0.05', MUSIC_API_BASE_URL: '' });
    const fast = renderProgress(song('FIRST_SUCCESS', 3_000, now), now, timelines);
    assert.match(fast, /ETA ~\d s|ETA ~[0-5]s/);
    assert.match(fast, /\[█{7,}/, 'well past the first phase of a 7.5 s song');
    const typical = renderProgress(song('FIRST_SUCCESS', 3_000, now), now);
    assert.match(typical, /ETA ~1m\d\ds|ETA ~2m/);
  });
});
