/**
 * End to end through the simulator at a small time scale, K tasks of every kind, twice: with the
 * provider's callbacks, and with every callback dropped (polling alone). Per task: provider calls,
 * history events, and the detection latency from the provider's SUCCESS to `ready`, split into the
 * hops of the task's history; the CPU each process used while the tasks ran. The tasks are awaited
 * on the Temporal server (one long poll each), not by asking the API for views: an observer must
 * not add load to what it measures. `BENCH_NODE_OPTIONS` reaches the service's processes as
 * NODE_OPTIONS (e.g. `--import` of a profiler).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { TASK_KINDS, type TaskKind } from '../../src/provider/kinds.ts';
import { buildSimulator, type FaultConfig } from '../../src/simulator/app.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { submissionFor } from '../chaos/inputs.ts';
import { submitUntilAccepted } from '../chaos/submitter.ts';
import { CpuMeter, describeCpu } from '../support/cpu.ts';
import { against, fixed, ms, spread } from '../support/figures.ts';
import { startService } from '../support/service.ts';
import { PHASE_MEANINGS, PHASES, phasesOf, type Phase } from '../support/phases.ts';
import { markdownTable } from '../support/table.ts';
import { awaitTasks } from '../support/taskWatch.ts';
import type { BenchTemporal } from '../support/temporal.ts';

export interface EndToEndOptions {
  temporal: BenchTemporal;
  bundlePath: string;
  dataDir: (label: string) => string;
  tasksPerKind: number;
  timeScale: number;
  /**
   * Submissions per second, at a steady pace. A fixed arrival rate keeps the load the same whatever
   * the code under test: submitting "as fast as six at a time" would make a service that accepts
   * submissions faster carry a denser burst, and show it slower.
   */
  arrivalsPerSecond?: number;
}

/**
 * The default pace: 90 tasks over 30 s. On the 2-core bench machine this keeps the dev server near
 * 60 % of a core; at 4 per second it reaches its knee (80 %) and every hop queues.
 */
const ARRIVALS_PER_SECOND = 3;

interface TaskFigures {
  kind: TaskKind;
  providerCalls: number;
  historyEvents: number;
  /** From the provider's SUCCESS to the task's `ready`. */
  latencyMs: number;
  /** Where that latency went, for a task confirmed after a callback and then stored. */
  phases: Record<Phase, number> | undefined;
  ready: boolean;
}

interface RunSettings {
  label: string;
  /** Distinct per run: the same seed would give the same task ids, which Temporal refuses to track twice. */
  seed: number;
  faults: Partial<FaultConfig>;
  pollInterval: string;
  pollMaxInterval: string;
  pollMaxMs: number;
}

const RUNS: RunSettings[] = [
  // The contract's defaults: with callbacks arriving, no timer poll should ever fire.
  {
    label: 'callbacks delivered',
    seed: 5,
    faults: {},
    pollInterval: '30s',
    pollMaxInterval: '5m',
    pollMaxMs: 300_000,
  },
  {
    label: 'every callback dropped',
    seed: 6,
    faults: { dropCallback: 1 },
    pollInterval: '1s',
    pollMaxInterval: '4s',
    pollMaxMs: 4_000,
  },
];

interface RunFigures {
  figures: TaskFigures[];
  /** % of one core per process, from the first submission until every task was ready. */
  cpu: Record<string, number>;
}

async function runOnce(options: EndToEndOptions, run: RunSettings): Promise<RunFigures> {
  const simulator = await buildSimulator({
    timeScale: options.timeScale,
    rateLimit: false,
    seed: run.seed,
    faults: run.faults,
  });
  const simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
  const service = await startService({
    temporalAddress: options.temporal.address,
    providerUrl: simulatorUrl,
    dataDir: options.dataDir(run.label.replace(/\W+/g, '-')),
    env: {
      POLL_INTERVAL: run.pollInterval,
      POLL_MAX_INTERVAL: run.pollMaxInterval,
      TASK_DEADLINE: '10m',
      // The simulator has no limit here: a budget that never binds, so this is the uncongested path.
      PROVIDER_RATE_LIMIT: '100000/10s',
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    },
    worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
  });
  const connection = await Connection.connect({ address: options.temporal.address });
  const client = new Client({ connection });
  try {
    const work = TASK_KINDS.flatMap((kind) =>
      Array.from({ length: options.tasksPerKind }, (_, index) => ({
        kind,
        n: index * TASK_KINDS.length + TASK_KINDS.indexOf(kind),
      })),
    );
    const submitted: { kind: TaskKind; taskId: string }[] = [];
    // The bench process holds the simulator too.
    const meter = new CpuMeter({
      temporal: options.temporal.pid,
      server: service.server.pid,
      worker: service.worker.pid,
      'bench + simulator': process.pid,
    }).begin();
    const pace = 1_000 / (options.arrivalsPerSecond ?? ARRIVALS_PER_SECOND);
    const begun = Date.now();
    await Promise.all(
      work.map(async ({ kind, n }, index) => {
        await delay(begun + index * pace - Date.now());
        const task = await submitUntilAccepted(
          service.apiUrl,
          {
            n,
            kind,
            input: submissionFor(kind, n),
            idempotencyKey: `e2e-${run.faults.dropCallback ?? 0}-${n}`,
          },
          120_000,
        );
        submitted.push(task);
      }),
    );
    const { views, unfinished } = await awaitTasks(
      client,
      service.apiUrl,
      submitted.map((task) => task.taskId),
      5 * 60_000,
    );
    const cpu = meter.end();
    if (unfinished.length) throw new Error(`${run.label}: ${unfinished.length} tasks never finished`);
    const stats = (await (await fetch(`${simulatorUrl}/__sim/stats`)).json()) as {
      tasks: Record<string, { calls: Record<string, number> }>;
    };
    const figures: TaskFigures[] = [];
    for (const { kind, taskId } of submitted) {
      const truth = (await (await fetch(`${simulatorUrl}/__sim/tasks/${taskId}`)).json()) as {
        createdAt: string;
        schedule: { complete?: number };
      };
      const view = views.get(taskId)!;
      const history = await client.workflow.getHandle(musicTaskWorkflowId(taskId)).fetchHistory();
      const successAt = Date.parse(truth.createdAt) + (truth.schedule.complete ?? 0);
      figures.push({
        kind,
        providerCalls: Object.values(stats.tasks[taskId]?.calls ?? {}).reduce((sum, count) => sum + count, 0),
        historyEvents: history.events?.length ?? 0,
        latencyMs: Date.parse(view.updatedAt) - successAt,
        phases: phasesOf(history.events ?? [], successAt),
        ready: view.ready,
      });
    }
    return { figures, cpu };
  } finally {
    await connection.close();
    await service.close();
    await simulator.close();
  }
}

export async function benchEndToEnd(options: EndToEndOptions): Promise<string> {
  const results: (RunFigures & { run: RunSettings })[] = [];
  for (const run of RUNS) results.push({ run, ...(await runOnce(options, run)) });

  const summary = markdownTable(
    [
      'run',
      'tasks',
      'ready',
      'provider calls/task (mean, max)',
      'history events/task (mean, max)',
      'SUCCESS → ready p50',
      'p99',
      'max',
      'CPU while it ran (% of one core)',
    ],
    results.map(({ run, figures, cpu }) => {
      const calls = spread(figures.map((task) => task.providerCalls));
      const events = spread(figures.map((task) => task.historyEvents));
      const latency = spread(figures.map((task) => task.latencyMs));
      return [
        `${run.label} (POLL_INTERVAL ${run.pollInterval}, POLL_MAX_INTERVAL ${run.pollMaxInterval})`,
        figures.length,
        figures.filter((task) => task.ready).length,
        `${fixed(calls.mean, 2)}, ${calls.max}`,
        `${fixed(events.mean, 1)}, ${events.max}`,
        ms(latency.p50),
        ms(latency.p99),
        ms(latency.max),
        describeCpu(cpu),
      ];
    }),
  );
  const byKind = markdownTable(
    [
      'kind',
      ...results.flatMap(({ run }) => [
        `calls (${run.label})`,
        `events (${run.label})`,
        `latency p50 (${run.label})`,
      ]),
    ],
    TASK_KINDS.map((kind) => [
      kind,
      ...results.flatMap(({ figures }) => {
        const ofKind = figures.filter((task) => task.kind === kind);
        return [
          fixed(spread(ofKind.map((task) => task.providerCalls)).mean, 1),
          fixed(spread(ofKind.map((task) => task.historyEvents)).mean, 0),
          ms(spread(ofKind.map((task) => task.latencyMs)).p50),
        ];
      }),
    ]),
  );
  const [withCallbacks, dropped] = results;
  const phased = (withCallbacks?.figures ?? []).flatMap((task) => (task.phases ? [task.phases] : []));
  const breakdown = markdownTable(
    ['phase (callbacks delivered)', 'p50', 'p99', 'max', 'what it covers'],
    PHASES.map((phase) => {
      const figures = spread(phased.map((phases) => phases[phase]));
      return [phase, ms(figures.p50), ms(figures.p99), ms(figures.max), PHASE_MEANINGS[phase]];
    }),
  );
  const verdicts: string[] = [];
  if (withCallbacks && dropped) {
    const calls = spread(withCallbacks.figures.map((task) => task.providerCalls));
    const events = spread(results.flatMap(({ figures }) => figures.map((task) => task.historyEvents)));
    const fast = spread(withCallbacks.figures.map((task) => task.latencyMs));
    const slow = spread(dropped.figures.map((task) => task.latencyMs));
    const slowTarget = dropped.run.pollMaxMs + 2_000;
    verdicts.push(
      `- provider calls per task with callbacks: ${against(`mean ${fixed(calls.mean, 2)}, max ${calls.max}`, '2', calls.max <= 2)}`,
      `- history events per task: ${against(`max ${events.max}`, '≤ 60', events.max <= 60)}`,
      `- detection latency with callbacks: ${against(`p99 ${ms(fast.p99)}`, '≤ 1 s', fast.p99 <= 1_000)}`,
      `- detection latency without callbacks: ${against(`p99 ${ms(slow.p99)}`, `≤ POLL_MAX_INTERVAL + 2 s = ${ms(slowTarget)}`, slow.p99 <= slowTarget)}`,
      `- ratio of the two p99s (polling / callbacks): ${fixed(slow.p99 / fast.p99, 1)}×`,
    );
  }
  return [
    '## End to end (simulator)',
    '',
    `${options.tasksPerKind} task(s) of each of the ${TASK_KINDS.length} kinds per run, submitted at a steady ${options.arrivalsPerSecond ?? ARRIVALS_PER_SECOND} per second, simulator time scale ${options.timeScale} (a song finishes in ~${fixed(150 * options.timeScale, 1)} s), no rate limit. Latency: from the simulator's scheduled SUCCESS (\`createdAt\` + \`schedule.complete\`) to the task view's \`updatedAt\` once ready (assets stored).`,
    '',
    summary,
    '',
    byKind,
    '',
    `Where SUCCESS → ready goes with callbacks, from the histories of the ${phased.length} tasks confirmed after a callback (event times; the columns do not add up across tasks):`,
    '',
    breakdown,
    '',
    ...verdicts,
  ].join('\n');
}
