/**
 * The production shape on one machine, natively — what docker-compose.yml describes: PostgreSQL,
 * the Temporal server on it (same version and configuration files as compose), the Temporal UI,
 * several workers and several HTTP replicas behind a front door, and the simulator when no
 * provider is configured. Every part is a {@link ManagedProcess} that can be killed and started
 * again; the data (PostgreSQL, assets, webhook secret) stays under `dataDir` across starts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { clusterBinary, deployDir } from './binaries.ts';
import { startFrontDoor } from './frontDoor.ts';
import { ManagedProcess, waitForHttp } from './managedProcess.ts';
import { startPostgres, type Postgres } from './postgres.ts';
import {
  ensureNamespace,
  setupTemporalSchema,
  temporalServerProcess,
  type TemporalPorts,
} from './temporalServer.ts';

/** The catalog's login and database on the cluster's PostgreSQL. */
export const CATALOG_DB = { database: 'music', user: 'music', password: 'music' } as const;

export interface ClusterPorts {
  /** The front door: the one public API and webhook address. */
  api: number;
  /** One per HTTP replica. */
  replicas: number[];
  postgres: number;
  temporal: TemporalPorts;
  /** Undefined: no Temporal UI. */
  ui?: number;
  /** Undefined: the provider is external (MUSIC_API_BASE_URL in `env`). */
  simulator?: number;
}

export interface ClusterOptions {
  /** Assets, the webhook secret and PostgreSQL's files (`postgres/`); kept across starts. */
  dataDir: string;
  ports: ClusterPorts;
  /** How many worker processes. */
  workers: number;
  /** Where the front door listens (the replicas always listen on loopback). */
  host?: string;
  namespace?: string;
  /** The contract's variables every app process gets (WEBHOOK_SECRET required, POLL_INTERVAL, …). */
  env: Record<string, string | undefined> & { WEBHOOK_SECRET: string };
  /** A worker entry point other than src/worker.ts (tests and benches load a prebuilt bundle). */
  workerEntry?: string;
  /** Durable PostgreSQL (fsync): on for `npm run cluster`, off for throwaway test clusters. */
  durable?: boolean;
  echo?: boolean;
  /** A part exited by itself (the supervisor of `npm run cluster` stops everything). */
  onUnexpectedExit?: (part: ManagedProcess, description: string) => void;
}

export interface Cluster {
  apiUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl?: string;
  simulatorUrl?: string;
  /** PostgreSQL URL of the catalog. */
  catalogUrl: string;
  postgres: Postgres;
  temporal: ManagedProcess;
  ui?: ManagedProcess;
  simulator?: ManagedProcess;
  workers: ManagedProcess[];
  servers: ManagedProcess[];
  /** The HTTP replica's own URL, by index (the front door is {@link apiUrl}). */
  replicaUrls: string[];
  frontDoor: FastifyInstance;
  /** Every process, in start order. */
  parts(): ManagedProcess[];
  /** Stops everything, last started first. */
  close(): Promise<void>;
}

/** Worker start includes bundling the workflows (tens of seconds each on a busy 2-core machine). */
const WORKER_READY_MS = 240_000;
/** Any other part: generous, for a machine busy with more than this cluster. */
const READY_MS = 180_000;

/** Brings the cluster up, each part once the parts it needs are ready. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { ports } = options;
  const namespace = options.namespace ?? 'default';
  const host = options.host ?? '127.0.0.1';
  const started: ManagedProcess[] = [];
  let frontDoor: FastifyInstance | undefined;
  const stopAll = async () => {
    await frontDoor?.close();
    for (const part of [...started].reverse())
      await part.stop(part.spec.name === 'postgres' ? 'SIGINT' : 'SIGTERM');
  };
  const common = { echo: options.echo, onUnexpectedExit: options.onUnexpectedExit };
  const startPart = async (part: ManagedProcess) => {
    started.push(part);
    await part.start();
    return part;
  };
  try {
    mkdirSync(options.dataDir, { recursive: true });
    const postgres = await startPostgres({
      dataDir: join(options.dataDir, 'postgres'),
      port: ports.postgres,
      durable: options.durable ?? true,
      ...common,
    });
    started.push(postgres.process);
    await setupTemporalSchema(postgres);
    await postgres.ensureDatabase(CATALOG_DB.database, CATALOG_DB.user, CATALOG_DB.password);
    const temporalAddress = `127.0.0.1:${ports.temporal.frontend}`;
    const temporal = await startPart(
      temporalServerProcess({ ports: ports.temporal, postgresPort: ports.postgres, ...common }),
    );
    await ensureNamespace(temporalAddress, namespace);

    const ui =
      ports.ui === undefined
        ? undefined
        : await startPart(
            new ManagedProcess({
              name: 'temporal-ui',
              command: {
                file: clusterBinary('temporal-ui-server'),
                args: [
                  '--root',
                  deployDir,
                  '--config',
                  'temporal-ui/config',
                  '--env',
                  'music-tasks',
                  'start',
                ],
              },
              env: {
                PATH: process.env.PATH,
                TEMPORAL_ADDRESS: temporalAddress,
                TEMPORAL_UI_HOST: host,
                TEMPORAL_UI_PORT: String(ports.ui),
                TEMPORAL_DEFAULT_NAMESPACE: namespace,
              },
              ready: () => waitForHttp(`http://127.0.0.1:${ports.ui}/`, READY_MS),
              ...common,
            }),
          );

    const apiUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${ports.api}`;
    const catalogUrl = postgres.url(CATALOG_DB.database, CATALOG_DB.user, CATALOG_DB.password);
    const appEnv: NodeJS.ProcessEnv = {
      PUBLIC_BASE_URL: apiUrl,
      // The console links each task to its workflow in the UI.
      ...(ports.ui === undefined ? {} : { TEMPORAL_UI_URL: `http://127.0.0.1:${ports.ui}` }),
      ...options.env,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      DATA_DIR: options.dataDir,
      DATABASE_URL: catalogUrl,
    };
    // Several workers on one machine cannot share one metrics port: a deployment gives each its own.
    delete appEnv.WORKER_METRICS_PORT;
    delete appEnv.WORKER_SDK_METRICS_PORT;
    delete appEnv.METRICS_PORT;

    let simulatorUrl: string | undefined;
    let simulator: ManagedProcess | undefined;
    if (ports.simulator !== undefined) {
      simulatorUrl = `http://127.0.0.1:${ports.simulator}`;
      simulator = await startPart(
        new ManagedProcess({
          name: 'simulator',
          entry: 'src/simulator/main.ts',
          env: { ...appEnv, HOST: '127.0.0.1', SIMULATOR_PORT: String(ports.simulator) },
          ready: () => waitForHttp(`${simulatorUrl}/__sim/faults`, READY_MS),
          ...common,
        }),
      );
      appEnv.MUSIC_API_BASE_URL = simulatorUrl;
      appEnv.MUSIC_API_KEY = options.env.MUSIC_API_KEY ?? 'local-simulator-key';
    }

    const replicaUrls = ports.replicas.map((port) => `http://127.0.0.1:${port}`);
    const servers = ports.replicas.map(
      (port, index) =>
        new ManagedProcess({
          name: `server-${index + 1}`,
          entry: 'src/server.ts',
          env: { ...appEnv, HOST: '127.0.0.1', PORT: String(port) },
          ready: () => waitForHttp(`${replicaUrls[index]}/readyz`, READY_MS),
          ...common,
        }),
    );
    const workers = Array.from(
      { length: options.workers },
      (_, index) =>
        new ManagedProcess({
          name: `worker-${index + 1}`,
          entry: options.workerEntry ?? 'src/worker.ts',
          env: appEnv,
          ready: async (part) => {
            await part.waitForLine(/worker polling/, WORKER_READY_MS);
          },
          ...common,
        }),
    );
    started.push(...servers, ...workers);
    await Promise.all([...servers, ...workers].map((part) => part.start()));
    frontDoor = (await startFrontDoor({ host, port: ports.api, replicas: replicaUrls })).app;

    return {
      apiUrl,
      temporalAddress,
      namespace,
      ...(ui ? { uiUrl: `http://127.0.0.1:${ports.ui}` } : {}),
      ...(simulatorUrl ? { simulatorUrl } : {}),
      catalogUrl,
      postgres,
      temporal,
      ...(ui ? { ui } : {}),
      ...(simulator ? { simulator } : {}),
      workers,
      servers,
      replicaUrls,
      frontDoor,
      parts: () => [...started],
      close: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
