/**
 * The chaos run, one implementation for `npm run chaos` and its scaled-down copy in `npm test`:
 * tasks of every kind through the real processes (server, worker, Temporal dev server on a SQLite
 * file — or, with `cluster`, the production shape: two of each on PostgreSQL-backed Temporal)
 * against the simulator with faults, while the processes are killed and started again; then every
 * task is checked against the simulator's truth and every log for unhandled errors.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildSimulator, type FaultConfig } from '../../src/simulator/app.ts';
import { startTestCluster, type TestCluster } from '../support/cluster.ts';
import type { LogLine, ManagedProcess } from '../support/processes.ts';
import { startService, type Service } from '../support/service.ts';
import { eachLimited, watchTasks } from '../support/taskWatch.ts';
import { BenchTemporal, bundleWorkflows } from '../support/temporal.ts';
import { mixedKind, submissionFor } from './inputs.ts';
import { scanLogs, type LogScan } from './logScan.ts';
import { submitUntilAccepted, type Submitted } from './submitter.ts';
import { judgeTask, type SimTruth, type TaskVerdict } from './verdict.ts';

/** The fault mix. */
export const CHAOS_FAULTS: Partial<FaultConfig> = {
  dropCallback: 0.3,
  duplicateCallback: 0.2,
  reorderCallbacks: 0.1,
  prematureComplete: 0.05,
  transientSubmitError: 0.05,
  transientQueryError: 0.05,
  terminalFailure: 0.02,
};

export type Part = 'worker' | 'server' | 'temporal';

export interface ChaosOptions {
  tasks: number;
  /** How often each part is killed (SIGKILL) and started again. */
  restarts: Record<Part, number>;
  /** Simulator time scale: 0.05 finishes a song in about 7.5 s. */
  timeScale?: number;
  seed?: number;
  faults?: Partial<FaultConfig>;
  /** Submissions in flight at once. */
  submitConcurrency?: number;
  /** Submissions are spread over this long, so every restart meets tasks in every phase. */
  submitSpreadMs?: number;
  /** How long a part stays dead before it is started again. */
  downtimeMs?: number;
  settleTimeoutMs?: number;
  /** Where the run's files go (a temporary directory under it, removed when the run passes). */
  scratchDir?: string;
  /** Echo the children's output. */
  echo?: boolean;
  /** Run on the cluster shape (two workers, two HTTP replicas, Temporal on PostgreSQL). */
  cluster?: boolean;
  progress?: (message: string) => void;
}

export interface Disruption {
  part: Part;
  afterSubmitted: number;
  /** From the kill until the part was ready again. */
  outageMs: number;
}

export interface ChaosReport {
  /** `dev server` or `cluster`. */
  shape: string;
  tasks: number;
  seed: number;
  timeScale: number;
  verdicts: TaskVerdict[];
  submissions: Submitted[];
  disruptions: Disruption[];
  logs: LogScan;
  unexpectedExits: string[];
  /** Everything that makes the run fail, in a line each. */
  failures: string[];
  durationMs: number;
  /** Where the run's files were kept (only when it failed). */
  keptDir?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** worker, server, temporal, worker, …: each part's restarts spread over the run. */
export function disruptionOrder(restarts: Record<Part, number>): Part[] {
  const left = { ...restarts };
  const order: Part[] = [];
  while (left.worker + left.server + left.temporal > 0) {
    for (const part of ['worker', 'server', 'temporal'] as const) {
      if (left[part]-- > 0) order.push(part);
    }
  }
  return order;
}

/** What the chaos run drives: an API to submit to, and parts to kill (each kill picks the next replica). */
interface Deployment {
  apiUrl: string;
  describe: string;
  /** Kills one instance of the part (SIGKILL) and, after `downtimeMs`, starts it again. */
  crash(part: Part, downtimeMs: number): Promise<void>;
  /** The app processes whose logs are scanned. */
  appProcesses(): ManagedProcess[];
  close(): Promise<void>;
}

/** The provider's limit is on in the simulator, raised with the service's budget to keep the run short. */
const CHAOS_RATE_LIMIT = { max: 100, windowMs: 10_000 };

const CHAOS_ENV = {
  POLL_INTERVAL: '1s',
  POLL_MAX_INTERVAL: '4s',
  TASK_DEADLINE: '20m',
  PROVIDER_RATE_LIMIT: `${CHAOS_RATE_LIMIT.max}/${CHAOS_RATE_LIMIT.windowMs}ms`,
};

async function onDevServer(dir: string, simulatorUrl: string, echo?: boolean): Promise<Deployment> {
  const temporal = await BenchTemporal.start(join(dir, 'temporal.sqlite'));
  let service: Service;
  try {
    service = await startService({
      temporalAddress: temporal.address,
      providerUrl: simulatorUrl,
      dataDir: join(dir, 'data'),
      env: CHAOS_ENV,
      echo,
    });
  } catch (error) {
    await temporal.stop();
    throw error;
  }
  return {
    apiUrl: service.apiUrl,
    describe: `Temporal dev server ${temporal.address} (SQLite ${join(dir, 'temporal.sqlite')}), server ${service.apiUrl} and worker`,
    async crash(part, downtimeMs) {
      if (part === 'temporal') return temporal.restart('SIGKILL', downtimeMs);
      const child = part === 'worker' ? service.worker : service.server;
      await child.stop('SIGKILL');
      await sleep(downtimeMs);
      await child.start();
    },
    appProcesses: () => [service.server, service.worker],
    async close() {
      await service.close();
      await temporal.stop();
    },
  };
}

async function onCluster(dir: string, simulatorUrl: string, echo?: boolean): Promise<Deployment> {
  // Outside the run's scratch directory: PostgreSQL's own user must be able to reach its files.
  const cluster: TestCluster = await startTestCluster({
    simulator: false,
    bundlePath: await bundleWorkflows(dir),
    env: { ...CHAOS_ENV, MUSIC_API_BASE_URL: simulatorUrl },
    echo,
  });
  const next: Record<Exclude<Part, 'temporal'>, number> = { worker: 0, server: 0 };
  return {
    apiUrl: cluster.apiUrl,
    describe: `cluster: Temporal ${cluster.temporalAddress} on PostgreSQL, front door ${cluster.apiUrl} over ${cluster.servers.length} replicas, ${cluster.workers.length} workers`,
    async crash(part, downtimeMs) {
      const group =
        part === 'temporal' ? [cluster.temporal] : part === 'worker' ? cluster.workers : cluster.servers;
      const child = group[part === 'temporal' ? 0 : next[part]++ % group.length]!;
      await child.stop('SIGKILL');
      await sleep(downtimeMs);
      await child.start();
    },
    appProcesses: () => [...cluster.servers, ...cluster.workers],
    close: () => cluster.close(),
  };
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: response.status, body: (await response.json()) as T };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const seed = options.seed ?? 7;
  const timeScale = options.timeScale ?? 0.05;
  const say = options.progress ?? (() => {});
  const root = options.scratchDir ?? tmpdir();
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, 'chaos-'));
  const failures: string[] = [];
  let simulator: FastifyInstance | undefined;
  let deployment: Deployment | undefined;
  const submissions: Submitted[] = [];
  const disruptions: Disruption[] = [];
  let verdicts: TaskVerdict[] = [];
  let logs: LogScan = { problems: [], warnings: 0, warningKinds: [] };
  let unexpectedExits: string[] = [];

  try {
    simulator = await buildSimulator({
      timeScale,
      seed,
      faults: { ...CHAOS_FAULTS, ...options.faults },
      rateLimit: CHAOS_RATE_LIMIT,
    });
    const simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
    say(`simulator ${simulatorUrl}; starting the ${options.cluster ? 'cluster' : 'service'}`);
    deployment = await (options.cluster ? onCluster : onDevServer)(dir, simulatorUrl, options.echo);
    say(`${deployment.describe} up; submitting ${options.tasks} tasks`);
    const running = deployment;

    const spreadMs = options.submitSpreadMs ?? options.tasks * 200;
    const order = disruptionOrder(options.restarts);
    const thresholds = order.map((_, index) =>
      Math.floor((options.tasks * (index + 1)) / (order.length + 1)),
    );
    let submittingDone = false;

    const submitter = eachLimited(
      Array.from({ length: options.tasks }, (_, n) => n),
      options.submitConcurrency ?? 4,
      async (n) => {
        const due = started + (spreadMs * n) / options.tasks;
        if (due > Date.now()) await sleep(due - Date.now());
        const kind = mixedKind(n);
        const submitted = await submitUntilAccepted(
          running.apiUrl,
          { n, kind, input: submissionFor(kind, n), idempotencyKey: `chaos-${seed}-${n}` },
          5 * 60_000,
        );
        submissions.push(submitted);
        if (submissions.length % 25 === 0) say(`${submissions.length}/${options.tasks} submitted`);
      },
    ).finally(() => (submittingDone = true));

    const monkey = (async () => {
      for (const [index, part] of order.entries()) {
        const threshold = thresholds[index]!;
        while (submissions.length < threshold && !submittingDone) await sleep(100);
        if (submissions.length < threshold) return;
        const killedAt = Date.now();
        say(`${submissions.length} submitted: killing the ${part} (SIGKILL)`);
        await running.crash(part, options.downtimeMs ?? 2_000);
        const outageMs = Date.now() - killedAt;
        disruptions.push({ part, afterSubmitted: submissions.length, outageMs });
        say(`the ${part} is back after ${outageMs} ms`);
      }
    })();
    const [submitted, monkeyed] = await Promise.allSettled([submitter, monkey]);
    for (const result of [submitted, monkeyed]) {
      if (result.status === 'rejected') failures.push(String(result.reason));
    }
    if (disruptions.length < order.length) {
      failures.push(`only ${disruptions.length} of ${order.length} restarts happened`);
    }

    const { views, unfinished } = await watchTasks(
      running.apiUrl,
      submissions.map((task) => task.taskId),
      options.settleTimeoutMs ?? 5 * 60_000,
      (done) => say(`${done}/${submissions.length} tasks finished`),
    );
    if (unfinished.length)
      failures.push(`${unfinished.length} tasks never finished: ${unfinished.join(', ')}`);

    const stats = (
      await getJson<{ downloads: { byFile: Record<string, number> } }>(`${simulatorUrl}/__sim/stats`)
    ).body;
    verdicts = [];
    for (const task of submissions.sort((a, b) => a.n - b.n)) {
      const truth = (await getJson<SimTruth>(`${simulatorUrl}/__sim/tasks/${task.taskId}`)).body;
      verdicts.push(await judgeTask(truth, views.get(task.taskId), stats.downloads.byFile));
    }
    for (const verdict of verdicts) {
      for (const problem of verdict.problems) failures.push(`${verdict.kind} ${verdict.taskId}: ${problem}`);
    }
  } catch (error) {
    failures.push(`the run stopped: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    await deployment?.close();
    await simulator?.close();
  }
  if (deployment) {
    const processes = deployment.appProcesses();
    logs = scanLogs(processes.flatMap((part): LogLine[] => part.logs));
    unexpectedExits = processes.flatMap((part) =>
      part.unexpectedExits.map((exit) => `${part.spec.name} exited by itself: ${exit}`),
    );
    for (const entry of logs.problems) failures.push(`[${entry.process}#${entry.incarnation}] ${entry.text}`);
    failures.push(...unexpectedExits);
  }
  const keep = failures.length > 0;
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return {
    shape: options.cluster ? 'cluster' : 'dev server',
    tasks: options.tasks,
    seed,
    timeScale,
    verdicts,
    submissions,
    disruptions,
    logs,
    unexpectedExits,
    failures,
    durationMs: Date.now() - started,
    ...(keep ? { keptDir: dir } : {}),
  };
}
