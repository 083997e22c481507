/**
 * `npm run cluster`: the production shape, natively and supervised like `npm start` — PostgreSQL,
 * the Temporal server on it, the Temporal UI, CLUSTER_WORKERS workers and CLUSTER_SERVERS HTTP
 * replicas behind a front door on PORT, and the simulator when MUSIC_API_BASE_URL is unset.
 * Ctrl-C stops everything; a part that dies stops the group with a clear message; the data under
 * DATA_DIR (PostgreSQL included) is kept for the next start.
 */
import { createServer } from 'node:net';
import { z } from 'zod';
import { ConfigError, loadConfig, resolveWebhookSecret } from '../config.ts';
import { onShutdown } from '../shutdown.ts';
import { startCluster, type Cluster } from './cluster.ts';
import { DEFAULT_TEMPORAL_PORTS, type TemporalPorts } from './temporalServer.ts';

/** Cluster-only settings, read here because nothing else in the service needs them. */
const clusterEnv = z.object({
  CLUSTER_WORKERS: z.coerce.number().int().min(1).max(16).default(2),
  CLUSTER_SERVERS: z.coerce.number().int().min(1).max(16).default(2),
  /** Not 5432, so a PostgreSQL of the machine's own keeps its port. */
  CLUSTER_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(5433),
});

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

let cluster: Cluster | undefined;
let stopping = false;

/** Ctrl-C, SIGTERM or a part that died: the whole group stops (each part is killed if it lingers). */
const shutdown = onShutdown(
  'music-tasks cluster',
  async () => {
    stopping = true;
    await cluster?.close();
    console.log('music-tasks cluster: stopped (data kept)');
  },
  { delayMs: 120_000 },
);

function stopAll(exitCode: number, reason?: string): void {
  if (stopping) return;
  stopping = true;
  if (reason) console.error(`\nmusic-tasks cluster: ${reason}; stopping everything`);
  shutdown.stop(exitCode);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const parsed = clusterEnv.safeParse(
    Object.fromEntries(Object.entries(process.env).filter(([, value]) => value?.trim())),
  );
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n'),
    );
  }
  const settings = parsed.data;
  if (!config.temporal.embedded) {
    throw new ConfigError(
      'npm run cluster runs its own Temporal server: unset TEMPORAL_ADDRESS (to use a cluster of your own, run `npm run worker` and `npm run server` against it)',
    );
  }
  // The Temporal ports keep their spacing around TEMPORAL_DEV_PORT (7233 by default).
  const shift = config.temporal.devPort - DEFAULT_TEMPORAL_PORTS.frontend;
  const temporalPorts = Object.fromEntries(
    Object.entries(DEFAULT_TEMPORAL_PORTS).map(([name, port]) => [name, port + shift]),
  ) as Record<keyof TemporalPorts, number>;
  const replicas = Array.from({ length: settings.CLUSTER_SERVERS }, (_, index) => config.port + 1 + index);
  const wanted: [string, number][] = [
    ['PORT', config.port],
    ...replicas.map((port, index): [string, number] => [`replica ${index + 1} (PORT+${index + 1})`, port]),
    ['CLUSTER_POSTGRES_PORT', settings.CLUSTER_POSTGRES_PORT],
    ...Object.entries(temporalPorts).map(([name, port]: [string, number]): [string, number] => [
      `Temporal ${name} (TEMPORAL_DEV_PORT)`,
      port,
    ]),
    ['TEMPORAL_UI_PORT', config.temporal.uiPort],
    ...(config.provider.simulated ? [['SIMULATOR_PORT', config.simulator.port] as [string, number]] : []),
  ];
  for (const [name, port] of wanted) {
    if (!(await portFree(port, '127.0.0.1'))) {
      throw new Error(
        `port ${port} (${name}) is already in use — is another \`npm run cluster\` or \`npm start\` running?`,
      );
    }
  }

  console.log(`music-tasks cluster: starting (data in ${config.dataDir})`);
  cluster = await startCluster({
    dataDir: config.dataDir,
    host: config.host,
    namespace: config.temporal.namespace,
    workers: settings.CLUSTER_WORKERS,
    ports: {
      api: config.port,
      replicas,
      postgres: settings.CLUSTER_POSTGRES_PORT,
      temporal: temporalPorts,
      ui: config.temporal.uiPort,
      ...(config.provider.simulated ? { simulator: config.simulator.port } : {}),
    },
    env: { ...process.env, WEBHOOK_SECRET: resolveWebhookSecret(config) },
    echo: true,
    onUnexpectedExit: (part, description) => {
      const reason = `${part.spec.name} exited unexpectedly (${description})`;
      // While starting, startCluster fails by itself and stops what it started.
      if (cluster) stopAll(1, reason);
      else console.error(`music-tasks cluster: ${reason}`);
    },
  });
  console.log(
    [
      '',
      'music-tasks cluster is up',
      `  API          ${cluster.apiUrl}   (front door over ${cluster.replicaUrls.join(', ')})`,
      `  Console      ${cluster.apiUrl}/`,
      `  Temporal UI  ${cluster.uiUrl}`,
      `  Temporal     ${cluster.temporalAddress} (namespace ${cluster.namespace}, PostgreSQL 127.0.0.1:${settings.CLUSTER_POSTGRES_PORT})`,
      `  Workers      ${cluster.workers.length}`,
      `  Provider     ${cluster.simulatorUrl ? `${cluster.simulatorUrl} (simulator)` : config.provider.baseUrl}`,
      `  Data         ${config.dataDir}`,
      '  Ctrl-C stops everything; the next start keeps the data.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  stopAll(1, `could not start: ${message}`);
});
