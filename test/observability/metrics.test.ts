import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { dispatchRate } from '../../src/temporal/providerBudget.ts';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { buildSimulator } from '../../src/simulator/app.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { startTestWorker, testClient, testConfig } from '../support/temporal.ts';
import { freePort } from '../support/ports.ts';

/** The value of one series in Prometheus text, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const given = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => given[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('metrics: the worker endpoint, the SDK runtime endpoint and the HTTP server /metrics', () => {
  let simulator: FastifyInstance;
  let app: FastifyInstance;
  let apiUrl: string;
  let config: Config;
  let sdkMetricsUrl: string;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let closeClient: () => Promise<void>;
  let finished: TaskView;

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${what} did not happen within ${timeoutMs} ms`);
  };
  const workerMetrics = async () => (await fetch(worker.worker.metricsUrl!)).text();

  before(async () => {
    simulator = await buildSimulator({ timeScale: 0.02, seed: 11, rateLimit: false });
    const simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
    const sdkPort = await freePort();
    sdkMetricsUrl = `http://127.0.0.1:${sdkPort}/metrics`;
    config = testConfig({
      MUSIC_API_BASE_URL: simulatorUrl,
      MUSIC_API_KEY: 'metrics-test-key',
      WORKER_METRICS_PORT: '0',
      WORKER_SDK_METRICS_PORT: String(sdkPort),
      POLL_INTERVAL: '1s',
      POLL_MAX_INTERVAL: '2s',
      TASK_DEADLINE: '2m',
    });
    const { client, connection } = await testClient(config);
    closeClient = () => connection.close();
    app = await buildApp(config, { client, connection, webhookSecrets: [config.webhookSecret!] });
    apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    // The worker hands the provider callback URLs on the port the app really listens on.
    worker = await startTestWorker({ ...config, publicBaseUrl: apiUrl });
    const submitted = await api('POST', '/v1/tasks', {
      kind: 'music',
      input: { customMode: false, instrumental: false, model: 'V4_5', prompt: 'a calm song about summer' },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    finished = await waitFor('the task becoming ready', async () => {
      const { body } = await api('GET', `/v1/tasks/${submitted.body.taskId}`);
      assert.ok(!body.error, JSON.stringify(body.error));
      return body.ready ? (body as TaskView) : undefined;
    });
  });
  after(async () => {
    await worker?.stop();
    await app?.close();
    await closeClient?.();
    await simulator?.close();
  });

  it('the worker counts provider calls by route and code, polls, and stored bytes by type', async () => {
    assert.ok(worker.worker.metricsUrl, 'WORKER_METRICS_PORT serves metrics');
    const text = await workerMetrics();
    assert.equal(sample(text, 'music_provider_calls_total', { route: '/suno/generate', code: '200' }), 1);
    const queries = sample(text, 'music_provider_calls_total', { route: '/suno/query/task', code: '200' });
    assert.ok(queries && queries >= 1, `query calls: ${queries}`);
    assert.ok(sample(text, 'music_provider_call_seconds_count', { route: '/suno/query/task' })! >= 1);
    const confirmations = sample(text, 'music_polls_total', { kind: 'music', outcome: 'SUCCESS' });
    assert.ok(confirmations && confirmations >= 1, `polls that saw SUCCESS: ${confirmations}`);
    assert.equal(sample(text, 'music_provider_requests_total', { purpose: 'submit', outcome: 'ok' }), 1);
    const byPurpose = ['confirm', 'poll'].map(
      (purpose) => sample(text, 'music_provider_requests_total', { purpose, outcome: 'ok' }) ?? 0,
    );
    assert.ok(byPurpose[0]! + byPurpose[1]! >= 1, `queries by purpose: ${byPurpose.join(', ')}`);
    assert.ok(sample(text, 'music_provider_call_wait_seconds_count', { purpose: 'submit' })! >= 1);

    const bytesByType = new Map<string, number>();
    for (const asset of finished.assets)
      bytesByType.set(asset.type, (bytesByType.get(asset.type) ?? 0) + asset.bytes);
    assert.ok(bytesByType.size >= 2, 'a song leaves audio and image files');
    for (const [type, bytes] of bytesByType) {
      assert.equal(sample(text, 'music_postprocess_bytes_total', { kind: 'music', type }), bytes, type);
    }
    assert.equal(
      sample(text, 'music_postprocess_assets_total', { kind: 'music', type: 'audio' }),
      finished.assets.filter((asset) => asset.type === 'audio').length,
    );
    assert.match(text, /process_resident_memory_bytes/, 'process metrics are served too');
  });

  it('the worker counts post-processing failures by kind and failure type', async () => {
    const submitted = await api('POST', '/v1/tasks', {
      kind: 'wav',
      input: { taskId: '5c79a1f0be8e', audioId: 'e231a9c08cad' },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const taskId = submitted.body.taskId as string;
    // A file where the task's asset folder belongs: every attempt to store fails.
    const assetsDir = join(config.dataDir, 'assets');
    mkdirSync(assetsDir, { recursive: true });
    writeFileSync(join(assetsDir, taskId), 'in the way');
    try {
      const failures = await waitFor('a failed store attempt', async () => {
        const value = sample(await workerMetrics(), 'music_postprocess_failures_total', { kind: 'wav' });
        return value && value > 0 ? value : undefined;
      });
      assert.ok(failures >= 1);
    } finally {
      assert.equal((await api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    }
  });

  it('the SDK runtime serves its own worker metrics on WORKER_SDK_METRICS_PORT', async () => {
    const text = await (await fetch(sdkMetricsUrl)).text();
    assert.match(text, /^temporal_\w+/m);
    assert.match(text, /temporal_worker_task_slots_available\{[^}]*task_queue="test-/);
    assert.match(text, /temporal_activity_execution_latency\w*\{[^}]*activity_type="storeAssets"/);
  });

  it('the HTTP server counts tasks by status from Temporal visibility, and callbacks', async () => {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    // The namespace is shared with every other test of the run: at least this file's task.
    assert.ok(sample(text, 'music_tasks', { status: 'SUCCESS' })! >= 1, 'tasks with status SUCCESS');
    for (const status of ['PENDING', 'FIRST_SUCCESS', 'GENERATE_AUDIO_FAILED', 'TIMED_OUT', 'other'])
      assert.notEqual(sample(text, 'music_tasks', { status }), undefined, `music_tasks{status="${status}"}`);
    assert.ok(sample(text, 'music_tasks_ready')! >= 1);
    assert.notEqual(sample(text, 'music_tasks_open'), undefined);
    assert.equal(sample(text, 'music_tasks_count_failures_total'), 0);
    assert.ok(
      sample(text, 'music_webhook_callbacks_total', {
        kind: 'music',
        phase: 'complete',
        outcome: 'signalled',
      })! >= 1,
    );
    assert.ok(sample(text, 'music_webhook_signal_seconds_count', { outcome: 'signalled' })! >= 1);
    // The fleet's budget as the server has it: the configured rate, nothing waiting once idle.
    assert.equal(sample(text, 'music_provider_budget_rate'), dispatchRate(config.providerBudget));
    assert.equal(sample(text, 'music_provider_calls_waiting'), 0);
    assert.notEqual(sample(text, 'music_provider_budget_spent_rate'), undefined);
    assert.notEqual(sample(text, 'music_provider_budget_left_rate'), undefined);
  });

  it('the HTTP server still answers /metrics when Temporal cannot count, and says so', async () => {
    const unreachable = testConfig({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    const connection = Connection.lazy({ address: unreachable.temporal.address, connectTimeout: '1s' });
    const lonely = await buildApp(unreachable, {
      client: new Client({ connection }),
      connection,
      webhookSecrets: [unreachable.webhookSecret!],
    });
    try {
      const response = await lonely.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      assert.equal(sample(response.body, 'music_tasks_count_failures_total'), 1);
      assert.equal(sample(response.body, 'music_tasks', { status: 'SUCCESS' }), undefined);
      assert.equal(sample(response.body, 'music_tasks_open'), undefined);
    } finally {
      await lonely.close();
      await connection.close();
    }
  });
});
