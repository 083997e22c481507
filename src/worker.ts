import { fileURLToPath } from 'node:url';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerOptions,
} from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createActivities, type ActivityDeps } from './activities/index.ts';
import { FileAssetStore } from './activities/assetStore.ts';
import { loadConfig, resolveWebhookSecret, type Config } from './config.ts';
import { ProviderClient } from './provider/client.ts';
import { ensureSearchAttributes } from './temporal/connection.ts';
import { trackingSettings } from './temporal/tasks.ts';
import { callbackUrlFor } from './webhook/token.ts';
import { join } from 'node:path';

const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/** Workflow runs kept in memory; an evicted run replays its history when it next wakes. */
const DEFAULT_MAX_CACHED_WORKFLOWS = 1_000;

export interface MusicWorkerOptions {
  config: Config;
  /** Replaces any activity dependency (tests hand in fakes). */
  deps?: Partial<ActivityDeps>;
  /** A prebuilt workflow bundle (tests build it once per run). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxCachedWorkflows?: number;
}

/**
 * One process, two workers: the task queue runs workflows, provider calls and tracking; the
 * post-processing queue runs downloads under its own concurrency limit.
 */
export async function createMusicWorker(options: MusicWorkerOptions) {
  const { config } = options;
  installRuntime(config.logLevel);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const clientConnection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  await ensureSearchAttributes(clientConnection, config.temporal.namespace);
  const secret = resolveWebhookSecret(config);
  const logger = pino({ level: config.logLevel, name: 'worker' });
  const deps: ActivityDeps = {
    provider: new ProviderClient({
      baseUrl: config.provider.baseUrl,
      apiKey: config.provider.apiKey,
      logger,
    }),
    assets: new FileAssetStore(join(config.dataDir, 'assets')),
    temporal: client,
    tracking: trackingSettings(config),
    callbackUrl: (kind) => callbackUrlFor(config.publicBaseUrl, kind, secret),
    ...options.deps,
  };
  const activities = createActivities(deps);
  const workflowSource = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath };
  const main = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource,
    activities: {
      submitToProvider: activities.submitToProvider,
      trackTask: activities.trackTask,
      queryProvider: activities.queryProvider,
    },
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
  });
  const postprocess = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.postprocessTaskQueue,
    activities: { storeAsset: activities.storeAsset },
    maxConcurrentActivityTaskExecutions: config.temporal.postprocessConcurrency,
  });

  return {
    workers: [main, postprocess] as const,
    /** Runs until {@link shutdown}; rejects when a worker fails. */
    async run(): Promise<void> {
      try {
        await Promise.all([main.run(), postprocess.run()]);
      } finally {
        await clientConnection.close();
        await connection.close();
      }
    },
    shutdown(): void {
      for (const worker of [main, postprocess]) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
    },
  };
}

const SDK_LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
};
let runtimeInstalled = false;

/** The SDK's own logs at the configured level (once per process: the runtime is a singleton). */
function installRuntime(level: Config['logLevel']): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(SDK_LOG_LEVELS[level] ?? 'ERROR') });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const worker = await createMusicWorker({ config });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
  console.log(
    `worker polling ${config.temporal.taskQueue} and ${config.temporal.postprocessTaskQueue} at ${config.temporal.address}`,
  );
  await worker.run();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`worker: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
