/**
 * The fleet at the provider's rate limit: N songs submitted at once through `POST /v1/tasks`
 * against the simulator with its limit on and half of the tasks silent (no callback at all, only
 * polls learn their outcome), with one worker process and with two sharing the budget. Reports
 * tasks lost, provider calls per task, the share of calls answered 430, and the wall time until
 * every task is ready against the floor the limit sets (useful calls ÷ allowed rate).
 */
import { Client, Connection } from '@temporalio/client';
import { buildSimulator } from '../../src/simulator/app.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { submissionFor } from '../chaos/inputs.ts';
import { against, fixed, ms, spread } from '../support/figures.ts';
import { startService } from '../support/service.ts';
import { markdownTable } from '../support/table.ts';
import { eachLimited } from '../support/taskWatch.ts';
import type { BenchTemporal } from '../support/temporal.ts';

export interface FleetRun {
  tasks: number;
  /** The simulator's limit and the service's budget, set together. */
  limit: { requests: number; windowMs: number };
  workers: number;
}

export interface FleetOptions {
  temporal: BenchTemporal;
  bundlePath: string;
  dataDir: (label: string) => string;
  runs: FleetRun[];
  timeScale: number;
  /** Where the section's dev server keeps its data (said in the report). */
  storage: 'file' | 'memory';
  progress?: (message: string) => void;
}

interface FleetFigures {
  run: FleetRun;
  answered202: number;
  queuedAtFirst: number;
  ready: number;
  lost: number;
  providerCalls: number;
  rateLimited: number;
  wallMs: number;
  floorMs: number;
  minimumFloorMs: number;
  readyAfter: number[];
  /** Seconds the budget was not spent although nothing waited for it: the service fed it too slowly. */
  starvedSeconds: number;
  /** Seconds sampled (first request → every task ready). */
  sampledSeconds: number;
}

/**
 * Samples, once a second, the calls the simulator answered and the calls waiting at the budget
 * (the service's `music_provider_calls_waiting`): a second that spent under 90 % of the limit with
 * nothing waiting was lost upstream of the budget (workflows, the server, the machine), not to it.
 */
function budgetSampler(simulatorUrl: string, apiUrl: string, perSecond: number) {
  let previous: number | undefined;
  let starved = 0;
  let sampled = 0;
  const read = async () => {
    const [stats, metrics] = await Promise.all([
      fetch(`${simulatorUrl}/__sim/stats`).then((r) => r.json() as Promise<{ requests: { total: number } }>),
      fetch(`${apiUrl}/metrics`).then((r) => r.text()),
    ]);
    const waiting = Number(/^music_provider_calls_waiting (\S+)$/m.exec(metrics)?.[1] ?? NaN);
    const total = stats.requests.total;
    if (previous !== undefined) {
      sampled += 1;
      if (total - previous < 0.9 * perSecond && waiting === 0) starved += 1;
    }
    previous = total;
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    read()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, 1_000);
  return {
    stop: () => {
      clearInterval(timer);
      return { starvedSeconds: starved, sampledSeconds: sampled };
    },
  };
}

const POLL = { POLL_INTERVAL: '2s', POLL_MAX_INTERVAL: '10s' };

async function runOnce(options: FleetOptions, run: FleetRun, seed: number): Promise<FleetFigures> {
  const say = options.progress ?? (() => {});
  const label = `${run.tasks} tasks, ${run.limit.requests}/${run.limit.windowMs / 1000}s, ${run.workers} worker(s)`;
  const simulator = await buildSimulator({
    timeScale: options.timeScale,
    rateLimit: { max: run.limit.requests, windowMs: run.limit.windowMs },
    seed,
    faults: { silentTask: 0.5 },
  });
  const simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
  const service = await startService({
    temporalAddress: options.temporal.address,
    providerUrl: simulatorUrl,
    dataDir: options.dataDir(`fleet-${seed}`),
    workers: run.workers,
    env: {
      ...POLL,
      TASK_DEADLINE: '1h',
      SUBMIT_DEADLINE: '1h',
      PROVIDER_RATE_LIMIT: `${run.limit.requests}/${run.limit.windowMs}ms`,
    },
    worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
  });
  const connection = await Connection.connect({ address: options.temporal.address });
  const client = new Client({ connection });
  const queue = service.env.TEMPORAL_TASK_QUEUE!;
  try {
    // Every request at once, as a busy account sends them; each answers once, within its short wait.
    const keys = Array.from({ length: run.tasks }, (_, n) => `fleet-${seed}-${n}`);
    const sampler = budgetSampler(
      simulatorUrl,
      service.apiUrl,
      (1000 * run.limit.requests) / run.limit.windowMs,
    );
    const started = Date.now();
    let answered202 = 0;
    let queuedAtFirst = 0;
    await eachLimited(keys, run.tasks, async (key) => {
      const n = Number(key.split('-').at(-1));
      const response = await fetch(`${service.apiUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'music', input: submissionFor('music', n), idempotencyKey: key }),
        signal: AbortSignal.timeout(120_000),
      });
      const body = (await response.json()) as { status?: string };
      if (response.status === 202) answered202++;
      if (body.status === 'QUEUED') queuedAtFirst++;
    });
    say(
      `${label}: ${answered202}/${run.tasks} answered 202 (${queuedAtFirst} queued) in ${ms(Date.now() - started)}`,
    );
    // Visibility counts, not per-task reads: the watcher must not spend the service's time.
    const readyQuery = `WorkflowType = 'musicTask' AND TaskQueue = '${queue}' AND MusicTaskReady = true`;
    const limitMs = Math.max(600_000, ((run.tasks * 6) / (run.limit.requests / run.limit.windowMs)) * 1.5);
    let ready = 0;
    let lastSaid = 0;
    while (Date.now() - started < limitMs) {
      try {
        ready = (await client.workflow.count(readyQuery)).count;
      } catch (error) {
        // a loaded dev server times out now and then: ask again
        say(`${label}: count failed (${error instanceof Error ? error.message : String(error)})`);
      }
      if (ready >= run.tasks) break;
      if (Date.now() - lastSaid > 30_000) {
        say(`${label}: ${ready}/${run.tasks} ready after ${ms(Date.now() - started)}`);
        lastSaid = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const budget = sampler.stop();
    const readyAfter: number[] = [];
    for await (const execution of client.workflow.list({ query: readyQuery })) {
      const view = (await client.workflow.getHandle(execution.workflowId).result()) as TaskView;
      readyAfter.push(Date.parse(view.updatedAt) - started);
    }
    const stats = (await (await fetch(`${simulatorUrl}/__sim/stats`)).json()) as {
      requests: { total: number; byCode: Record<string, number> };
    };
    const rateLimited = (stats.requests.byCode['430'] ?? 0) + (stats.requests.byCode['405'] ?? 0);
    const perMs = run.limit.requests / run.limit.windowMs;
    say(
      `${label}: ${readyAfter.length} ready, ${stats.requests.total} provider calls (${rateLimited} answered 430/405), last ready after ${ms(Math.max(0, ...readyAfter))}`,
    );
    return {
      run,
      answered202,
      queuedAtFirst,
      ready: readyAfter.length,
      lost: run.tasks - readyAfter.length,
      providerCalls: stats.requests.total,
      rateLimited,
      wallMs: Math.max(0, ...readyAfter),
      floorMs: (stats.requests.total - rateLimited) / perMs,
      minimumFloorMs: (2 * run.tasks) / perMs,
      readyAfter,
      ...budget,
    };
  } finally {
    await connection.close();
    await service.close();
    await simulator.close();
  }
}

export async function benchFleet(options: FleetOptions): Promise<string> {
  const results: FleetFigures[] = [];
  for (const [index, run] of options.runs.entries()) results.push(await runOnce(options, run, 31 + index));

  const table = markdownTable(
    [
      'tasks',
      'limit = budget',
      'workers',
      'answered 202 (queued)',
      'ready',
      'lost',
      'provider calls/task',
      'answered 430',
      'wall time',
      'floor (useful calls ÷ rate)',
      'wall / floor',
      'ready p50',
      'starved seconds',
    ],
    results.map((figures) => [
      figures.run.tasks,
      `${figures.run.limit.requests}/${figures.run.limit.windowMs / 1000}s`,
      figures.run.workers,
      `${figures.answered202} (${figures.queuedAtFirst})`,
      figures.ready,
      figures.lost,
      fixed(figures.providerCalls / figures.run.tasks, 2),
      `${figures.rateLimited} (${fixed((100 * figures.rateLimited) / figures.providerCalls, 2)} %)`,
      ms(figures.wallMs),
      ms(figures.floorMs),
      fixed(figures.wallMs / figures.floorMs, 3),
      ms(spread(figures.readyAfter).p50),
      `${figures.starvedSeconds} of ${figures.sampledSeconds}`,
    ]),
  );
  const verdicts = results.map((figures) => {
    const share = figures.rateLimited / figures.providerCalls;
    const ratio = figures.wallMs / figures.floorMs;
    return `- ${figures.run.tasks} tasks, ${figures.run.workers} worker(s): lost ${against(String(figures.lost), '0', figures.lost === 0)}; answered 430 ${against(`${fixed(100 * share, 2)} %`, '≤ 1 %', share <= 0.01)}; wall / floor ${against(`${fixed(ratio, 3)}×`, '≤ 1.1×', ratio <= 1.1)} (against the floor of 2 calls per task: ${fixed(figures.wallMs / figures.minimumFloorMs, 3)}×)`;
  });
  return [
    '## Fleet at the rate limit',
    '',
    `Songs submitted all at once through \`POST /v1/tasks\` to a dev server ${options.storage === 'memory' ? 'in memory' : 'on a SQLite file'}, simulator time scale ${options.timeScale} with its rate limit on, half of the tasks silent (no callback: only polls learn their outcome; ${POLL.POLL_INTERVAL} / ${POLL.POLL_MAX_INTERVAL} poll backoff), the service's \`PROVIDER_RATE_LIMIT\` equal to the simulator's limit. Wall time: from the first request to the last task ready (assets stored). Floor: the provider calls that got an answer other than 430/405, at the allowed rate. Starved seconds: sampled seconds that spent under 90 % of the limit while no call waited at the budget (time lost upstream of the budget: workflows, the Temporal server, the machine).`,
    '',
    table,
    '',
    ...verdicts,
  ].join('\n');
}
