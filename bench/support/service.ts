/**
 * The service as it is deployed: the HTTP server and the worker as separate child processes,
 * configured only through the contract's environment variables.
 */
import { randomBytes } from 'node:crypto';
import type { TaskKind } from '../../src/provider/kinds.ts';
import { secretCallbackUrlFor } from '../../src/webhook/token.ts';
import { freePort } from '../../test/support/ports.ts';
import { ManagedProcess, waitForHttp } from './processes.ts';

export interface ServiceOptions {
  temporalAddress: string;
  providerUrl: string;
  dataDir: string;
  /** More contract variables (POLL_INTERVAL, TASK_DEADLINE, …). */
  env?: Record<string, string>;
  /** `src/worker.ts` (the real entry, bundles on start) or the bench worker (prebuilt bundle, memory probes). */
  worker?: { entry: 'src/worker.ts' } | { entry: 'bench/support/workerProcess.ts'; bundlePath: string };
  echo?: boolean;
  /** Worker processes sharing the queues (and so the provider budget); default 1. */
  workers?: number;
}

export interface Service {
  apiUrl: string;
  secret: string;
  env: NodeJS.ProcessEnv;
  server: ManagedProcess;
  /** The first of `workers`. */
  worker: ManagedProcess;
  workers: ManagedProcess[];
  callbackUrl(kind: TaskKind): string;
  close(): Promise<void>;
}

/** Worker start includes bundling the workflows (tens of seconds on a busy 2-core machine). */
const WORKER_READY_MS = 180_000;

/** Starts the server and the worker; both are ready when this resolves. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const port = await freePort();
  const secret = randomBytes(24).toString('base64url');
  const queue = `bench-${randomBytes(4).toString('hex')}`;
  const apiUrl = `http://127.0.0.1:${port}`;
  const worker = options.worker ?? { entry: 'src/worker.ts' };
  // Only the contract's variables reach the children: nothing from the caller's shell leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_TASK_QUEUE: queue,
    POSTPROCESS_TASK_QUEUE: `${queue}-post`,
    MUSIC_API_BASE_URL: options.providerUrl,
    MUSIC_API_KEY: 'bench-key',
    WEBHOOK_SECRET: secret,
    DATA_DIR: options.dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    ...options.env,
    ...('bundlePath' in worker ? { BENCH_WORKFLOW_BUNDLE: worker.bundlePath } : {}),
  };
  const server = new ManagedProcess({
    name: 'server',
    entry: 'src/server.ts',
    env,
    echo: options.echo,
    ready: () => waitForHttp(`${apiUrl}/healthz`, 60_000),
  });
  const workers = Array.from(
    { length: options.workers ?? 1 },
    (_, index) =>
      new ManagedProcess({
        name: index ? `worker-${index + 1}` : 'worker',
        entry: worker.entry,
        env,
        echo: options.echo,
        ipc: worker.entry !== 'src/worker.ts',
        ready: async (part) => {
          await part.waitForLine(/worker polling/, WORKER_READY_MS);
        },
      }),
  );
  const workerProcess = workers[0]!;
  const parts = [server, ...workers];
  const started = await Promise.allSettled(parts.map((part) => part.start()));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(parts.map((part) => part.stop('SIGKILL')));
    throw failed.reason;
  }
  return {
    apiUrl,
    secret,
    env,
    server,
    worker: workerProcess,
    workers,
    callbackUrl: (kind) => secretCallbackUrlFor(apiUrl, kind, secret),
    async close() {
      await Promise.all(parts.map((part) => part.stop()));
    },
  };
}
