/**
 * A throwaway cluster (src/cluster/cluster.ts) on free loopback ports, for the cluster tests, the
 * chaos run and the bench: PostgreSQL in a temporary directory, workers on a prebuilt workflow
 * bundle, and only the contract's variables in the children's environment.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../src/cluster/cluster.ts';
import type { TemporalPorts } from '../../src/cluster/temporalServer.ts';
import { secretCallbackUrlFor } from '../../src/webhook/token.ts';
import type { TaskKind } from '../../src/provider/kinds.ts';
import { freePort } from '../../test/support/ports.ts';

export interface TestClusterOptions {
  workers?: number;
  replicas?: number;
  /** Start the cluster's own simulator process (else `env` names MUSIC_API_BASE_URL). */
  simulator?: boolean;
  ui?: boolean;
  /** A prebuilt workflow bundle (else every worker bundles on start). */
  bundlePath?: string;
  env?: Record<string, string>;
  /** Under this directory (removed on close unless `keep`); PostgreSQL's user must be able to reach it. */
  scratchDir?: string;
  echo?: boolean;
}

export interface TestCluster extends Cluster {
  dir: string;
  secret: string;
  callbackUrl(kind: TaskKind): string;
  /** Stops everything; removes the files unless asked to keep them. */
  close(options?: { keep?: boolean }): Promise<void>;
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * Free ports for Temporal's services, below the OS's ephemeral range: Temporal keeps membership
 * ports in a PostgreSQL smallint (at most 32767).
 */
async function freeTemporalPorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  const ports = {} as Record<K, number>;
  const taken = new Set<number>();
  for (const name of names) {
    for (;;) {
      const candidate = 20_000 + randomInt(12_000);
      if (!taken.has(candidate) && (await listenable(candidate))) {
        ports[name] = candidate;
        taken.add(candidate);
        break;
      }
    }
  }
  return ports;
}

const TEMPORAL_PORT_NAMES = [
  'frontend',
  'frontendHttp',
  'frontendMembership',
  'history',
  'historyMembership',
  'matching',
  'matchingMembership',
  'worker',
  'workerMembership',
] as const satisfies readonly (keyof TemporalPorts)[];

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const root = options.scratchDir ?? tmpdir();
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, 'cluster-'));
  // The postgres user (when we are root) must reach its data directory inside.
  chmodSync(dir, 0o755);
  const secret = randomBytes(24).toString('base64url');
  const replicas = await Promise.all(Array.from({ length: options.replicas ?? 2 }, () => freePort()));
  const temporal = await freeTemporalPorts(TEMPORAL_PORT_NAMES);
  const cluster = await startCluster({
    dataDir: join(dir, 'data'),
    workers: options.workers ?? 2,
    durable: false,
    ports: {
      api: await freePort(),
      replicas,
      postgres: await freePort(),
      temporal,
      ...(options.ui ? { ui: await freePort() } : {}),
      ...(options.simulator === false ? {} : { simulator: await freePort() }),
    },
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      WEBHOOK_SECRET: secret,
      MUSIC_API_KEY: 'cluster-key',
      LOG_LEVEL: 'warn',
      ...options.env,
      ...(options.bundlePath ? { BENCH_WORKFLOW_BUNDLE: options.bundlePath } : {}),
    },
    ...(options.bundlePath ? { workerEntry: 'bench/support/workerProcess.ts' } : {}),
    echo: options.echo,
  });
  return {
    ...cluster,
    dir,
    secret,
    callbackUrl: (kind) => secretCallbackUrlFor(cluster.apiUrl, kind, secret),
    async close({ keep = false } = {}) {
      await cluster.close();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}
