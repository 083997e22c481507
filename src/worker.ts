import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { createActivities, type ActivityDeps } from './activities/index.ts';
import { openAssetStore } from './activities/openAssetStore.ts';
import { openCatalog } from './catalog/openCatalog.ts';
import { loadConfig, resolveWebhookSecret, type Config } from './config.ts';
import { ProviderClient } from './provider/client.ts';
import { observeActivities } from './observability/activityInterceptors.ts';
import { createLogger } from './observability/logging.ts';
import { serveMetrics } from './observability/metricsServer.ts';
import { installRuntime } from './observability/runtime.ts';
import { startTracing } from './observability/tracing.ts';
import { createWorkerMetrics } from './observability/workerMetrics.ts';
import { ensureSearchAttributes, temporalConnectionOptions } from './temporal/connection.ts';
import { BudgetGovernor, dispatchRate } from './temporal/providerBudget.ts';
import { trackingSettings } from './temporal/tasks.ts';
import { callbackUrlFor } from './webhook/token.ts';

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
 * One process, three workers: the task queue runs workflows and tracking; the provider queue runs
 * every provider call within the fleet's rate budget; the post-processing queue runs downloads
 * under its own concurrency limit.
 */
export async function createMusicWorker(options: MusicWorkerOptions) {
  const { config } = options;
  installRuntime(config);
  const logger = createLogger(config, 'worker');
  const metricsPort = config.observability.workerMetricsPort;
  const metrics = createWorkerMetrics({ processMetrics: metricsPort !== undefined });
  // First: a port already taken fails start-up before anything else is open.
  const metricsServer =
    metricsPort === undefined ? undefined : await serveMetrics(metrics.registry, config.host, metricsPort);
  const tracing = startTracing(config, 'music-tasks-worker');
  const connectionOptions = temporalConnectionOptions(config);
  const connection = await NativeConnection.connect(connectionOptions);
  const clientConnection = await Connection.connect(connectionOptions);
  const client = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
    interceptors: tracing?.clientInterceptors,
  });
  if (!(await ensureSearchAttributes(clientConnection, config.temporal.namespace))) {
    logger.warn(
      { namespace: config.temporal.namespace },
      'cannot list search attributes with these credentials: register MusicTaskStatus, MusicTaskKind (Keyword), MusicTaskReady (Bool), MusicTaskEventAt and MusicTaskEventSeq (Int) in the namespace',
    );
  }
  const secret = resolveWebhookSecret(config);
  const budget = BudgetGovernor.fromConfig(clientConnection, config, logger).start();
  // The worker closes the catalog it opened; one handed in belongs to the caller.
  const ownedCatalog = options.deps?.catalog ? undefined : await openCatalog(config);
  const deps: ActivityDeps = {
    provider: new ProviderClient({
      baseUrl: config.provider.baseUrl,
      apiKey: config.provider.apiKey,
      allowPlainHttp: config.provider.allowPlainHttp,
      logger,
      onCall: metrics.recordProviderCall,
    }),
    assets: await openAssetStore(config),
    catalog: ownedCatalog,
    temporal: client,
    tracking: trackingSettings(config),
    callbackUrl: (kind, nonce) => callbackUrlFor(config.publicBaseUrl, kind, secret, nonce),
    onRateLimited: (retryAfterMs) => budget.rateLimited(retryAfterMs),
    ...options.deps,
  };
  const activities = createActivities(deps);
  const workflowSource = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath };
  const interceptors: WorkerOptions['interceptors'] = {
    activity: [observeActivities(metrics), ...(tracing?.workerInterceptors.activity ?? [])],
    // A prebuilt bundle cannot take interceptor modules: its workflows run untraced.
    ...(tracing && !options.workflowBundle
      ? { workflowModules: tracing.workerInterceptors.workflowModules }
      : {}),
  };
  const main = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource,
    activities: {
      trackTask: activities.trackTask,
      // Run as a local activity at the end of a task: one marker event instead of a round trip.
      catalogTask: activities.catalogTask,
    },
    interceptors,
    ...(tracing ? { sinks: tracing.sinks } : {}),
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
  });
  const postprocess = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.postprocessTaskQueue,
    activities: { storeAssets: activities.storeAssets },
    interceptors,
    maxConcurrentActivityTaskExecutions: config.temporal.postprocessConcurrency,
  });
  // Every worker sets the same server-side rate: the queue's dispatch rate is the fleet's budget.
  const provider = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.providerTaskQueue,
    activities: { submitToProvider: activities.submitToProvider, queryProvider: activities.queryProvider },
    interceptors,
    maxTaskQueueActivitiesPerSecond: dispatchRate(config.providerBudget),
  });
  const workers = [main, postprocess, provider] as const;
  return {
    workers,
    metrics,
    /** Where the worker's Prometheus metrics are served (WORKER_METRICS_PORT), if anywhere. */
    metricsUrl: metricsServer?.url,
    /** Runs until {@link shutdown}; rejects when a worker fails. */
    async run(): Promise<void> {
      try {
        await Promise.all(workers.map((worker) => worker.run()));
      } finally {
        budget.stop();
        await metricsServer?.close();
        await tracing?.shutdown();
        await clientConnection.close();
        await connection.close();
        await ownedCatalog?.close();
      }
    },
    shutdown(): void {
      for (const worker of workers) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const worker = await createMusicWorker({ config });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
  console.log(
    `worker polling ${config.temporal.taskQueue}, ${config.temporal.providerTaskQueue} and ${config.temporal.postprocessTaskQueue} at ${config.temporal.address}` +
      (worker.metricsUrl ? `; metrics at ${worker.metricsUrl}` : ''),
  );
  await worker.run();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`worker: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
