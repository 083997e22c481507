/**
 * The production shape beside the default, in one run: the same end-to-end tasks and the same
 * webhook ingest on (a) the dev server (SQLite) with one worker and one HTTP server, (b) the
 * cluster (Temporal on PostgreSQL, two HTTP replicas behind the front door) with one worker, and
 * (c) the same cluster with two workers. Both deployments run side by side and the shapes take
 * turns (A B C, then C B A), so each sees the same machine noise; CPU per process group shows
 * where the next bottleneck is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { TEMPORAL_SERVER_VERSION } from '../../src/cluster/binaries.ts';
import { TASK_KINDS, type TaskKind } from '../../src/provider/kinds.ts';
import { buildSimulator } from '../../src/simulator/app.ts';
import { submissionFor } from '../chaos/inputs.ts';
import { submitUntilAccepted } from '../chaos/submitter.ts';
import { startTestCluster } from '../support/cluster.ts';
import { cpuSeconds, describeCpu } from '../support/cpu.ts';
import { fixed, ms, spread } from '../support/figures.ts';
import { startService } from '../support/service.ts';
import { markdownTable } from '../support/table.ts';
import { eachLimited, watchTasks } from '../support/taskWatch.ts';
import { BenchTemporal } from '../support/temporal.ts';

export interface ClusterShapeOptions {
  bundlePath: string;
  dir: string;
  /** Tasks of each kind in the end-to-end part. */
  tasksPerKind: number;
  /** Callbacks in the ingest part, and how many at a time. */
  callbacks: number;
  concurrency: number;
  timeScale: number;
  progress: (message: string) => void;
}

/** A deployment under measurement: where to send, and which pids make up each process group. */
interface Shape {
  label: string;
  apiUrl: string;
  callbackUrl: string;
  groups: () => Record<string, number[]>;
}

interface ShapeFigures {
  label: string;
  round: number;
  tasks: number;
  ready: number;
  wallSeconds: number;
  latency: ReturnType<typeof spread>;
  ingest: { rate: number; p50: number; p99: number; errors: number };
  ingestCpu: Record<string, number>;
}

/** A process and every process it forked (PostgreSQL runs one backend per connection). */
function withChildren(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

/** % of one core each group used while `work` ran; groups are read again at the end (backends come and go). */
async function measureCpu(shape: Shape, work: () => Promise<void>): Promise<Record<string, number>> {
  const startOf = new Map<number, number>();
  for (const pids of Object.values(shape.groups()))
    for (const pid of pids) startOf.set(pid, cpuSeconds(pid) ?? 0);
  const before = shape.groups();
  const started = performance.now();
  await work();
  const wall = (performance.now() - started) / 1000;
  const usage: Record<string, number> = {};
  for (const [name, pids] of Object.entries(shape.groups())) {
    let seconds = 0;
    for (const pid of new Set([...pids, ...(before[name] ?? [])])) {
      // Born during the run: all it used; gone before the end: what it had at the start.
      const first = startOf.get(pid) ?? 0;
      seconds += (cpuSeconds(pid) ?? first) - first;
    }
    usage[name] = (100 * seconds) / wall;
  }
  return usage;
}

const textCallback = (taskId: string) => JSON.stringify({ callbackType: 'text', task_id: taskId, data: [] });

async function ingest(shape: Shape, count: number, concurrency: number) {
  let sequence = 0;
  const run = (amount: number) =>
    autocannon({
      url: shape.callbackUrl,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections: concurrency,
      amount,
      timeout: 30,
      requests: [
        {
          setupRequest: (request) => ({
            ...request,
            body: textCallback(`shape-${process.pid}-${shape.label.replace(/\W+/g, '')}-${sequence++}`),
          }),
        },
      ],
    });
  await run(Math.min(100, count));
  let result: autocannon.Result | undefined;
  const cpu = await measureCpu(shape, async () => {
    result = await run(count);
  });
  return {
    figures: {
      rate: result!['2xx'] / result!.duration,
      p50: result!.latency.p50,
      p99: result!.latency.p99,
      errors: result!.errors + result!.timeouts + result!.non2xx,
    },
    cpu,
  };
}

async function endToEnd(shape: Shape, simulatorUrl: string, tasksPerKind: number, seed: number) {
  const work = TASK_KINDS.flatMap((kind) =>
    Array.from({ length: tasksPerKind }, (_, index) => ({
      kind,
      n: seed * 1000 + index * TASK_KINDS.length + TASK_KINDS.indexOf(kind),
    })),
  );
  const started = Date.now();
  const submitted: { kind: TaskKind; taskId: string }[] = [];
  await eachLimited(work, 6, async ({ kind, n }) => {
    submitted.push(
      await submitUntilAccepted(
        shape.apiUrl,
        { n, kind, input: submissionFor(kind, n), idempotencyKey: `shape-${seed}-${n}` },
        120_000,
      ),
    );
  });
  const { views, unfinished } = await watchTasks(
    shape.apiUrl,
    submitted.map((task) => task.taskId),
    5 * 60_000,
  );
  if (unfinished.length) throw new Error(`${shape.label}: ${unfinished.length} tasks never finished`);
  const wallSeconds = (Date.now() - started) / 1000;
  const latencies: number[] = [];
  for (const { taskId } of submitted) {
    const truth = (await (await fetch(`${simulatorUrl}/__sim/tasks/${taskId}`)).json()) as {
      createdAt: string;
      schedule: { complete?: number };
    };
    const view = views.get(taskId)!;
    if (view.ready)
      latencies.push(
        Date.parse(view.updatedAt) - (Date.parse(truth.createdAt) + (truth.schedule.complete ?? 0)),
      );
  }
  return {
    tasks: submitted.length,
    ready: [...views.values()].filter((view) => view.ready).length,
    wallSeconds,
    latency: spread(latencies),
  };
}

// Polls never due within the run: callbacks finish the tasks, ingest's workflows only wait.
const ENV = { POLL_INTERVAL: '10m', POLL_MAX_INTERVAL: '10m', TASK_DEADLINE: '30m' };

export async function benchClusterShape(options: ClusterShapeOptions): Promise<string> {
  const say = options.progress;
  const simulator = await buildSimulator({ timeScale: options.timeScale, rateLimit: false, seed: 31 });
  const simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
  const results: ShapeFigures[] = [];
  let seed = 0;
  const measure = async (shape: Shape, round: number) => {
    say(`round ${round}, ${shape.label}: end to end…`);
    const e2e = await endToEnd(shape, simulatorUrl, options.tasksPerKind, ++seed);
    say(`round ${round}, ${shape.label}: ingest…`);
    const { figures, cpu } = await ingest(shape, options.callbacks, options.concurrency);
    results.push({ label: shape.label, round, ...e2e, ingest: figures, ingestCpu: cpu });
  };
  const temporal = await BenchTemporal.start(`${options.dir}/shape-dev.sqlite`);
  const service = await startService({
    temporalAddress: temporal.address,
    providerUrl: simulatorUrl,
    dataDir: `${options.dir}/shape-dev`,
    env: ENV,
    worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
  });
  say('starting the cluster…');
  const cluster = await startTestCluster({
    workers: 2,
    replicas: 2,
    simulator: false,
    bundlePath: options.bundlePath,
    env: { ...ENV, MUSIC_API_BASE_URL: simulatorUrl },
  });
  try {
    const dev: Shape = {
      label: 'dev server (SQLite), 1 worker, 1 HTTP server',
      apiUrl: service.apiUrl,
      callbackUrl: service.callbackUrl('music'),
      groups: () => ({
        temporal: [temporal.pid!],
        http: [service.server.pid!],
        workers: [service.worker.pid!],
      }),
    };
    const onCluster = (workers: number): Shape => ({
      label: `cluster (PostgreSQL), ${workers} worker${workers > 1 ? 's' : ''}, 2 HTTP replicas`,
      apiUrl: cluster.apiUrl,
      callbackUrl: cluster.callbackUrl('music'),
      groups: () => ({
        temporal: [cluster.temporal.pid!],
        postgres: withChildren(cluster.postgres.process.pid),
        http: cluster.servers.map((server) => server.pid!),
        workers: cluster.workers.filter((worker) => worker.running).map((worker) => worker.pid!),
        'front door + bench': [process.pid],
      }),
    });
    const second = cluster.workers[1]!;
    const shapes = [
      { shape: dev, workers: undefined },
      { shape: onCluster(1), workers: 1 },
      { shape: onCluster(2), workers: 2 },
    ];
    for (const [round, order] of [shapes, [...shapes].reverse()].entries()) {
      for (const { shape, workers } of order) {
        if (workers === 1) await second.stop();
        if (workers === 2) await second.start();
        await measure(shape, round + 1);
      }
    }
  } finally {
    await cluster.close();
    await service.close();
    await temporal.stop();
    await simulator.close();
  }
  return describeShapes(results, options);
}

function describeShapes(results: ShapeFigures[], options: ClusterShapeOptions): string {
  /** Each shape over both rounds: callbacks per second of all its ingest time. */
  const labels = [...new Set(results.map((shape) => shape.label))];
  const rateOf = (label: string) => {
    const ofShape = results.filter((shape) => shape.label === label);
    const seconds = ofShape.reduce((sum, shape) => sum + options.callbacks / shape.ingest.rate, 0);
    return (ofShape.length * options.callbacks) / seconds;
  };
  const baseRate = rateOf(labels[0]!);
  const base = { ingest: { rate: baseRate } };
  const table = markdownTable(
    [
      'round: shape',
      'tasks ready',
      'end to end (all tasks)',
      'SUCCESS → ready p50',
      'p99',
      'ingest callbacks/s',
      'vs dev server',
      'ingest p50',
      'p99',
      'errors',
    ],
    results.map((shape) => [
      `${shape.round}: ${shape.label}`,
      `${shape.ready}/${shape.tasks}`,
      `${fixed(shape.wallSeconds, 1)} s`,
      ms(shape.latency.p50),
      ms(shape.latency.p99),
      fixed(shape.ingest.rate, 0),
      fixed(shape.ingest.rate / base.ingest.rate, 2),
      ms(shape.ingest.p50),
      ms(shape.ingest.p99),
      shape.ingest.errors,
    ]),
  );
  const cpu = markdownTable(
    ['round: shape', 'CPU during ingest (% of one core)'],
    results.map((shape) => [`${shape.round}: ${shape.label}`, describeCpu(shape.ingestCpu)]),
  );
  const busiest = (shape: ShapeFigures) =>
    Object.entries(shape.ingestCpu).sort(([, a], [, b]) => b - a)[0]?.[0] ?? '-';
  return [
    '## Production shape beside the dev server',
    '',
    `The same work on each shape, in one run, both deployments up side by side and the shapes taking turns (round 1 in this order, round 2 reversed): ${options.tasksPerKind} task(s) of every kind end to end through the simulator (time scale ${options.timeScale}, callbacks delivered), then ${options.callbacks} webhook callbacks for distinct tasks (each starts a workflow), ${options.concurrency} at a time, through the HTTP endpoint (the cluster's front door). The cluster is \`npm run cluster\`'s code: Temporal ${TEMPORAL_SERVER_VERSION} on PostgreSQL, two HTTP replicas behind the front door; its second worker is stopped for the one-worker row.`,
    '',
    table,
    '',
    cpu,
    '',
    ...labels.map(
      (label) =>
        `- ${label}: ${fixed(rateOf(label), 0)} callbacks/s over both rounds (${fixed(rateOf(label) / baseRate, 2)}× the dev server); busiest during ingest: ${[
          ...new Set(results.filter((shape) => shape.label === label).map(busiest)),
        ].join(', ')}`,
    ),
  ].join('\n');
}
