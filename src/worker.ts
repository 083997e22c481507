import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { createActivities, type ActivityDeps } from './activities/index.ts';
import { createNotifyActivities } from './activities/notify.ts';
import { openAssetStore } from './activities/openAssetStore.ts';
import { notifyPolicyFor } from './notifications/policy.ts';
import { resolveNotifySecret } from './notifications/secret.ts';
import { openCatalog } from './catalog/openCatalog.ts';
import { loadConfig, resolveWebhookSecret, type Config } from './config.ts';
import { ProviderClient } from './provider/client.ts';
import { observeActivities } from './observability/activityInterceptors.ts';
import { createLogger } from './observability/logging.ts';
import { serveMetrics } from './observability/metricsServer.ts';
import { installRuntime } from './observability/runtime.ts';
import { startTracing } from './observability/tracing.ts';
import { createWorkerMetrics } from './observability/workerMetrics.ts';
import { onShutdown } from './shutdown.ts';
import { ensureSearchAttributes, temporalConnectionOptions } from './temporal/connection.ts';
import { claimCurrentVersion, workerDeploymentOptions } from './temporal/deployment.ts';
import { BudgetGovernor, dispatchRate } from './temporal/providerBudget.ts';
import { TaskClient, trackingSettings } from './tasks/client.ts';
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
  // Before the workers poll: a first deploy routes new runs to itself from its first task on.
  const version = config.temporal.deployment;
  const routing = await claimCurrentVersion(clientConnection, {
    namespace: config.temporal.namespace,
    version,
    identity: `music-tasks worker ${process.pid}`,
    always: config.temporal.embedded,
  });
  if (routing === 'waiting') {
    logger.warn(
      { deployment: version.deploymentName, buildId: version.buildId },
      `build ${version.buildId} is not current: it runs only what is pinned to it until \`npm run cli -- deployment promote ${version.buildId}\``,
    );
  }
  // The same version on every queue: a pinned run's activities run on its own build's workers.
  const deployment = { workerDeploymentOptions: workerDeploymentOptions(version) };
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
    tasks: new TaskClient(client, trackingSettings(config)),
    callbackUrl: (kind, nonce) => callbackUrlFor(config.publicBaseUrl, kind, secret, nonce),
    onRateLimited: (retryAfterMs) => budget.rateLimited(retryAfterMs),
    ...options.deps,
  };
  const activities = createActivities(deps);
  const { deliverNotification } = createNotifyActivities({
    policy: notifyPolicyFor(config),
    secret: resolveNotifySecret(config),
    timeoutMs: config.notify.retry.attemptTimeoutMs,
    publicBaseUrl: config.notify.publicBaseUrl,
  });
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
    ...deployment,
    ...workflowSource,
    activities: {
      trackTask: activities.trackTask,
      // Run as a local activity at the end of a task: one marker event instead of a round trip.
      catalogTask: activities.catalogTask,
      // A task's terminal event to the app: retried for hours, beside the workflows it belongs to.
      deliverNotification,
    },
    interceptors,
    ...(tracing ? { sinks: tracing.sinks } : {}),
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
  });
  const postprocess = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.postprocessTaskQueue,
    ...deployment,
    activities: { storeAssets: activities.storeAssets },
    interceptors,
    maxConcurrentActivityTaskExecutions: config.temporal.postprocessConcurrency,
  });
  // Every worker sets the same server-side rate: the queue's dispatch rate is the fleet's budget.
  const provider = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.providerTaskQueue,
    ...deployment,
    activities: { submitToProvider: activities.submitToProvider, queryProvider: activities.queryProvider },
    interceptors,
    maxTaskQueueActivitiesPerSecond: dispatchRate(config.providerBudget),
  });
  const workers = [main, postprocess, provider] as const;
  return {
    workers,
    metrics,
    /** This process's Worker Deployment Version, and whether it took new runs at start-up. */
    deployment: { ...version, routing },
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
  const { deploymentName, buildId, routing } = worker.deployment;
  console.log(
    `worker polling ${config.temporal.taskQueue}, ${config.temporal.providerTaskQueue} and ${config.temporal.postprocessTaskQueue} at ${config.temporal.address}` +
      ` as build ${buildId} of ${deploymentName} (${routing === 'waiting' ? 'not current: promote it to take new runs' : 'current'})` +
      (worker.metricsUrl ? `; metrics at ${worker.metricsUrl}` : ''),
  );
  const running = worker.run();
  // Activities in flight are cancelled and given time to stop; their tasks retry on another worker.
  onShutdown(
    'worker',
    async () => {
      worker.shutdown();
      await running.catch(() => undefined);
    },
    { delayMs: 60_000 },
  );
  await running;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`worker: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
