/**
 * The production shape, run for real: one cluster for the file (PostgreSQL, Temporal 1.29.1 on it,
 * the UI, two workers, two HTTP replicas behind the front door, the simulator process), then
 * tasks through each replica and each worker, and a worker, a replica and the Temporal server
 * each killed while tasks run. Every task must end as the simulator says, each asset stored once,
 * the catalog on PostgreSQL holding each task once.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { mixedKind, submissionFor } from '../../bench/chaos/inputs.ts';
import { submitUntilAccepted, type Submitted } from '../../bench/chaos/submitter.ts';
import { judgeTask, type SimTruth } from '../../bench/chaos/verdict.ts';
import { startTestCluster, type TestCluster } from '../../bench/support/cluster.ts';
import { watchTasks } from '../../bench/support/taskWatch.ts';
import { deployDir, TEMPORAL_SERVER_VERSION } from '../../src/cluster/binaries.ts';
import { setupTemporalSchema } from '../../src/cluster/temporalServer.ts';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions.ts';

const SETTLE_MS = 3 * 60_000;
let cluster: TestCluster;
let connection: Connection;
let client: Client;
let submitted = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  assert.equal(response.status, 200, url);
  return (await response.json()) as T;
}

/** Submits `count` tasks (of mixed kinds, or songs), round-robin over `apiUrls`. */
async function submit(
  count: number,
  { apiUrls = [cluster.apiUrl], songs = false }: { apiUrls?: string[]; songs?: boolean } = {},
): Promise<Submitted[]> {
  return Promise.all(
    Array.from({ length: count }, (_, index) => {
      const n = submitted++;
      const kind = songs ? 'music' : mixedKind(n);
      return submitUntilAccepted(
        apiUrls[index % apiUrls.length]!,
        { n, kind, input: submissionFor(kind, n), idempotencyKey: `cluster-${n}` },
        60_000,
      );
    }),
  );
}

/** Waits for every task through the front door; asserts each ends as the simulator says, stored once. */
async function assertAllFinishedRight(tasks: Submitted[]): Promise<void> {
  const ids = tasks.map((task) => task.taskId);
  const { views, unfinished } = await watchTasks(cluster.apiUrl, ids, SETTLE_MS);
  // A status query that no worker answered yet (one just restarted) is no end: ask again.
  for (let round = 0; round < 60; round++) {
    const again = ids.filter((id) => views.get(id)?.error?.code === 'status_unavailable');
    if (!again.length) break;
    await sleep(1_000);
    const more = await watchTasks(cluster.apiUrl, again, SETTLE_MS);
    for (const [id, view] of more.views) views.set(id, view);
    unfinished.push(...more.unfinished);
  }
  assert.deepEqual(unfinished, [], 'every task finished');
  const stats = await getJson<{ downloads: { byFile: Record<string, number> } }>(
    `${cluster.simulatorUrl}/__sim/stats`,
  );
  for (const taskId of ids) {
    const truth = await getJson<SimTruth>(`${cluster.simulatorUrl}/__sim/tasks/${taskId}`);
    const verdict = await judgeTask(truth, views.get(taskId), stats.downloads.byFile);
    assert.deepEqual(
      verdict.problems,
      [],
      `${verdict.kind} ${taskId}: ${JSON.stringify(views.get(taskId)?.error)}`,
    );
  }
}

/** Waits until a song of these has its first callbacks but is not ready: work is in flight. */
async function untilInFlight(tasks: Submitted[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const task of tasks) {
      const response = await fetch(`${cluster.apiUrl}/v1/tasks/${task.taskId}`);
      const view = (await response.json()) as { status: string; ready: boolean };
      if (['TEXT_SUCCESS', 'FIRST_SUCCESS'].includes(view.status)) return;
    }
    await sleep(100);
  }
  assert.fail('no song got under way within 60 s');
}

/** Which worker processes (`pid@host`) ran a workflow task or an activity of these tasks. */
async function workerIdentities(tasks: Submitted[]): Promise<Set<string>> {
  const identities = new Set<string>();
  for (const task of tasks) {
    const history = await client.workflow.getHandle(`music-task-${task.taskId}`).fetchHistory();
    for (const event of history.events ?? []) {
      const identity =
        event.activityTaskStartedEventAttributes?.identity ??
        event.workflowTaskStartedEventAttributes?.identity;
      if (identity) identities.add(identity);
    }
  }
  return identities;
}

/** The newest versioned step in deploy/temporal/schema for a database. */
function latestSchema(schema: 'temporal' | 'visibility'): string {
  const dir = join(deployDir, 'temporal', 'schema', 'postgresql', 'v12', schema, 'versioned');
  const versions = readdirSync(dir).map((name) => name.replace(/^v/, '').split('.').map(Number));
  versions.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  return versions.at(-1)!.join('.');
}

async function schemaVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const database of ['temporal', 'temporal_visibility']) {
    const db = new pg.Client({ connectionString: cluster.postgres.url(database) });
    await db.connect();
    try {
      const { rows } = await db.query<{ curr_version: string }>('SELECT curr_version FROM schema_version');
      versions[database] = rows[0]!.curr_version;
    } finally {
      await db.end();
    }
  }
  return versions;
}

async function callbacksTaken(replicaUrl: string): Promise<number> {
  const text = await (await fetch(`${replicaUrl}/metrics`)).text();
  return [...text.matchAll(/^music_webhook_callbacks_total\{[^}]*outcome="signalled"[^}]*\} (\d+)/gm)]
    .map((match) => Number(match[1]))
    .reduce((sum, value) => sum + value, 0);
}

describe(
  'the cluster shape (PostgreSQL-backed Temporal, two workers, two HTTP replicas)',
  { timeout: 20 * 60_000 },
  () => {
    before(async () => {
      cluster = await startTestCluster({
        ui: true,
        ...(process.env.TEST_WORKFLOW_BUNDLE ? { bundlePath: process.env.TEST_WORKFLOW_BUNDLE } : {}),
        // Polls so rare that only callbacks can finish a task within the test's time.
        env: {
          SIMULATOR_TIME_SCALE: '0.05',
          POLL_INTERVAL: '10m',
          POLL_MAX_INTERVAL: '10m',
          TASK_DEADLINE: '30m',
        },
      });
      connection = await Connection.connect({ address: cluster.temporalAddress });
      client = new Client({ connection, namespace: cluster.namespace });
    });

    after(async () => {
      await connection?.close();
      await cluster?.close();
    });

    it('runs Temporal at the pinned version on PostgreSQL, with the namespace, search attributes and UI', async () => {
      const info = await connection.workflowService.getSystemInfo({});
      assert.equal(info.serverVersion, TEMPORAL_SERVER_VERSION);
      const attributes = await connection.operatorService.listSearchAttributes({
        namespace: cluster.namespace,
      });
      for (const name of Object.keys(SEARCH_ATTRIBUTES))
        assert.ok(name in (attributes.customAttributes ?? {}), name);
      const db = new pg.Client({ connectionString: cluster.postgres.url('temporal') });
      await db.connect();
      try {
        const { rows } = await db.query<{ name: string }>('SELECT name FROM namespaces');
        assert.ok(
          rows.some((row) => row.name === cluster.namespace),
          'the namespace lives in PostgreSQL',
        );
      } finally {
        await db.end();
      }
      // What a second start does: the schema step again, which must change nothing.
      const versions = await schemaVersions();
      assert.deepEqual(versions, {
        temporal: latestSchema('temporal'),
        temporal_visibility: latestSchema('visibility'),
      });
      await setupTemporalSchema(cluster.postgres);
      assert.deepEqual(await schemaVersions(), versions, 'the schema step is idempotent');
      const ui = await fetch(cluster.uiUrl!);
      assert.equal(ui.status, 200, 'the Temporal UI answers');
      for (const url of [cluster.apiUrl, ...cluster.replicaUrls]) {
        assert.equal((await fetch(`${url}/readyz`)).status, 200, `${url} is ready`);
      }
    });

    it('runs tasks submitted through each HTTP replica on each worker; the catalog holds each once in PostgreSQL', async () => {
      const tasks = await submit(8, { apiUrls: cluster.replicaUrls });
      await assertAllFinishedRight(tasks);
      const identities = await workerIdentities(tasks);
      for (const worker of cluster.workers) {
        assert.ok(identities.has(`${worker.pid}@${hostname()}`), `${worker.spec.name} did some of the work`);
      }
      const catalog = new pg.Client({ connectionString: cluster.catalogUrl });
      await catalog.connect();
      try {
        const { rows } = await catalog.query<{ task_id: string; n: string }>(
          'SELECT task_id, count(*) AS n FROM tasks WHERE task_id = ANY($1) GROUP BY task_id',
          [tasks.map((task) => task.taskId)],
        );
        const ready = [];
        for (const task of tasks) {
          const view = await getJson<{ ready: boolean }>(`${cluster.apiUrl}/v1/tasks/${task.taskId}`);
          if (view.ready) ready.push(task.taskId);
        }
        assert.ok(ready.length > 0);
        assert.deepEqual(
          rows.map((row) => row.task_id).sort(),
          [...ready].sort(),
          'every ready task is in the catalog',
        );
        assert.ok(rows.every((row) => row.n === '1'));
      } finally {
        await catalog.end();
      }
    });

    it('finishes every task when a worker is killed mid-task (the other worker takes over)', async () => {
      const tasks = await submit(6, { songs: true });
      await untilInFlight(tasks);
      const [victim, survivor] = cluster.workers;
      await victim!.stop('SIGKILL');
      try {
        await assertAllFinishedRight(tasks);
        const identities = await workerIdentities(tasks);
        assert.ok(identities.has(`${survivor!.pid}@${hostname()}`), 'the surviving worker finished them');
      } finally {
        await victim!.start();
      }
    });

    it('takes the callbacks on the other replica while one is killed', async () => {
      const [victim, survivor] = cluster.servers;
      const before = await callbacksTaken(cluster.replicaUrls[1]!);
      const tasks = await submit(6, { songs: true });
      await untilInFlight(tasks);
      await victim!.stop('SIGKILL');
      try {
        // Polls are 10 minutes apart: only callbacks, through the front door, can finish these in time.
        await assertAllFinishedRight(tasks);
        assert.ok(
          (await callbacksTaken(cluster.replicaUrls[1]!)) > before,
          `${survivor!.spec.name} took callbacks`,
        );
        const stats = await getJson<{ callbacks: { gaveUp: number } }>(`${cluster.simulatorUrl}/__sim/stats`);
        assert.equal(stats.callbacks.gaveUp, 0, 'no callback was abandoned');
      } finally {
        await victim!.start();
      }
    });

    it('keeps every task across a Temporal server restart (the state is in PostgreSQL)', async () => {
      const tasks = await submit(6, { songs: true });
      await untilInFlight(tasks);
      await cluster.temporal.stop('SIGKILL');
      await sleep(1_000);
      await cluster.temporal.start();
      await assertAllFinishedRight(tasks);
      assert.equal(cluster.workers.filter((worker) => worker.running).length, 2, 'the workers rode it out');
      assert.deepEqual(
        cluster.parts().flatMap((part) => part.unexpectedExits.map((exit) => `${part.spec.name} ${exit}`)),
        [],
        'nothing exited by itself',
      );
    });
  },
);
