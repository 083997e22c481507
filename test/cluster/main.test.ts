/**
 * `npm run cluster`'s entry as a user runs it: it refuses a configuration it cannot run before it
 * starts anything; it comes up, Ctrl-C leaves nothing running, and a second start keeps the data.
 * (What the cluster does under failures is cluster.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { submissionFor } from '../../bench/chaos/inputs.ts';
import { submitUntilAccepted } from '../../bench/chaos/submitter.ts';
import { watchTasks } from '../../bench/support/taskWatch.ts';
import { DEFAULT_TEMPORAL_PORTS } from '../../src/cluster/temporalServer.ts';
import { freePort } from '../support/ports.ts';

const entry = join(import.meta.dirname, '..', '..', 'src', 'cluster', 'main.ts');

function runCluster(env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'cluster-main-'));
  const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...result, dataDir };
}

describe('npm run cluster (refusals)', () => {
  it('refuses an external TEMPORAL_ADDRESS: it runs its own Temporal server', () => {
    const result = runCluster({ TEMPORAL_ADDRESS: '127.0.0.1:7233' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /runs its own Temporal server: unset TEMPORAL_ADDRESS/);
    assert.deepEqual(readdirSync(result.dataDir), [], 'nothing was created');
  });

  it('names a bad CLUSTER_WORKERS, CLUSTER_SERVERS or CLUSTER_POSTGRES_PORT', () => {
    const result = runCluster({
      CLUSTER_WORKERS: '0',
      CLUSTER_SERVERS: 'two',
      CLUSTER_POSTGRES_PORT: '70000',
    });
    assert.equal(result.status, 1);
    for (const name of ['CLUSTER_WORKERS', 'CLUSTER_SERVERS', 'CLUSTER_POSTGRES_PORT'])
      assert.match(result.stderr, new RegExp(name));
    assert.deepEqual(readdirSync(result.dataDir), [], 'nothing was created');
  });
});

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function allFree(ports: number[]): Promise<boolean> {
  for (const port of ports) if (!(await listenable(port))) return false;
  return true;
}

/** Ports for a whole `npm run cluster` (1 replica): Temporal's keep their spacing below 32768. */
async function clusterPorts() {
  for (;;) {
    const frontend = 21_000 + Math.floor(Math.random() * 10_000);
    const shift = frontend - DEFAULT_TEMPORAL_PORTS.frontend;
    const api = await freePort();
    if (!(await allFree([...Object.values(DEFAULT_TEMPORAL_PORTS).map((port) => port + shift), api + 1])))
      continue;
    return {
      PORT: String(api),
      TEMPORAL_DEV_PORT: String(frontend),
      TEMPORAL_UI_PORT: String(await freePort()),
      SIMULATOR_PORT: String(await freePort()),
      CLUSTER_POSTGRES_PORT: String(await freePort()),
    };
  }
}

/** Every process below `pid` (the cluster's children and theirs). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, of] of parentOf) {
      if (of !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts `npm run cluster`'s entry; resolves once it printed that it is up. */
async function startCluster(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so Ctrl-C can be sent the way a terminal sends it: to the whole group.
    detached: true,
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const up = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not up within 5 min:\n${output.slice(-20).join('\n')}`)),
      300_000,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was up:\n${output.slice(-20).join('\n')}`));
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (line.includes('music-tasks cluster is up')) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
  await up;
  return { child, exited, output, ctrlC: () => process.kill(-child.pid!, 'SIGINT') };
}

describe('npm run cluster (lifecycle)', () => {
  it(
    'comes up, leaves nothing running after Ctrl-C, and keeps the data for the next start',
    { timeout: 15 * 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cluster-main-'));
      // PostgreSQL's own user (when the tests run as root) must reach its data directory.
      chmodSync(dir, 0o755);
      const env = {
        ...(await clusterPorts()),
        DATA_DIR: join(dir, 'data'),
        CLUSTER_WORKERS: '1',
        CLUSTER_SERVERS: '1',
        SIMULATOR_TIME_SCALE: '0.02',
        LOG_LEVEL: 'warn',
      };
      const apiUrl = `http://127.0.0.1:${env.PORT}`;
      try {
        const first = await startCluster(env);
        const task = await submitUntilAccepted(
          apiUrl,
          { n: 1, kind: 'lyrics', input: submissionFor('lyrics', 1), idempotencyKey: 'lifecycle-1' },
          60_000,
        );
        const { views } = await watchTasks(apiUrl, [task.taskId], 120_000);
        assert.equal(views.get(task.taskId)?.ready, true, 'the task is ready');
        const parts = descendants(first.child.pid!);
        assert.ok(
          parts.length >= 6,
          `postgres, temporal, the UI, simulator, worker and server run (${parts.length})`,
        );
        first.ctrlC();
        assert.equal(await first.exited, 0);
        assert.deepEqual(parts.filter(alive), [], 'nothing is left running');

        const second = await startCluster(env);
        try {
          const again = await fetch(`${apiUrl}/v1/tasks/${task.taskId}`);
          assert.equal(again.status, 200);
          assert.equal(
            ((await again.json()) as { ready: boolean }).ready,
            true,
            'the second start kept the task',
          );
        } finally {
          second.ctrlC();
          assert.equal(await second.exited, 0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
