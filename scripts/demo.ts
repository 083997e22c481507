/**
 * `npm run demo`: one task of every kind through the provider simulator with a fault mix switched
 * on, live progress until every task settles, then each workflow's Temporal UI link and where its
 * files landed. Uses the stack at API_URL when it answers; otherwise starts one (`npm start`'s
 * supervisor with a 20× faster simulator) and keeps it up afterwards so the links work.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { TasksApi } from '../src/cli/apiClient.ts';
import { watchTasks } from '../src/cli/watch.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { TASK_KINDS } from '../src/provider/kinds.ts';
import { SAMPLE_INPUTS } from '../src/provider/sampleInputs.ts';
import type { FaultConfig } from '../src/simulator/faults.ts';
import type { TaskView } from '../src/workflows/state.ts';

const root = join(import.meta.dirname, '..');

/** Every fault that still lets a task finish: what the service exists to absorb. */
const FAULT_MIX: Partial<FaultConfig> = {
  dropCallback: 0.2,
  duplicateCallback: 0.3,
  delayCallbackMs: 20_000,
  reorderCallbacks: 0.2,
  wrappedCallbacks: 0.5,
  snakeCaseQueries: 0.3,
  numericSuccessFlag: 0.3,
  epochTimestamps: 0.3,
  transientSubmitError: 0.2,
  transientQueryError: 0.2,
  prematureComplete: 0.1,
  forgedCallback: 0.3,
};
const TRANSIENT_CODES = ['405', '430', '455', '500'];

interface DemoStack {
  apiUrl: string;
  simulatorUrl: string;
  uiUrl: string;
  namespace: string;
  /** Set when the demo started the stack itself. */
  stop?: () => Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_500) })).ok;
  } catch {
    return false;
  }
}

/** The default port when nothing listens there, else any free one. */
function portFor(preferred: number): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      const fallback = createServer();
      fallback.listen(0, '127.0.0.1', () => {
        const { port } = fallback.address() as { port: number };
        fallback.close(() => resolve(port));
      });
    });
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(preferred)));
  });
}

async function startStack(config: Config): Promise<DemoStack> {
  const ports = {
    PORT: await portFor(config.port),
    TEMPORAL_DEV_PORT: await portFor(config.temporal.devPort),
    TEMPORAL_UI_PORT: await portFor(config.temporal.uiPort),
    SIMULATOR_PORT: await portFor(config.simulator.port),
  };
  console.log('No API answers: starting the stack (embedded Temporal, simulator 20× faster)…');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'start.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      TEMPORAL_ADDRESS: '',
      MUSIC_API_BASE_URL: '',
      MUSIC_API_KEY: '',
      SIMULATOR_TIME_SCALE: process.env.SIMULATOR_TIME_SCALE ?? '0.05',
      // Dropped callbacks are found by polling: poll often so the demo stays short.
      POLL_INTERVAL: process.env.POLL_INTERVAL ?? '5s',
      POLL_MAX_INTERVAL: process.env.POLL_MAX_INTERVAL ?? '20s',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the stack was not up within 180 s:\n${output}`)),
      180_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('music-tasks is up')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the stack exited (code ${code}) before it was up:\n${output}`));
    });
  });
  return {
    apiUrl: `http://127.0.0.1:${ports.PORT}`,
    simulatorUrl: `http://127.0.0.1:${ports.SIMULATOR_PORT}`,
    uiUrl: `http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`,
    namespace: config.temporal.namespace,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

async function findOrStartStack(): Promise<DemoStack> {
  const config = loadConfig();
  const apiUrl = (process.env.API_URL ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '');
  if (!(await answers(`${apiUrl}/readyz`))) return startStack(config);
  return {
    apiUrl,
    simulatorUrl: config.provider.baseUrl,
    uiUrl: `http://127.0.0.1:${config.temporal.uiPort}`,
    namespace: config.temporal.namespace,
  };
}

async function simulator<T>(
  stack: DemoStack,
  method: 'GET' | 'PUT',
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${stack.simulatorUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch(() => undefined);
  if (!response?.ok) {
    throw new Error(
      `no provider simulator at ${stack.simulatorUrl} (${path} answered ${response?.status ?? 'nothing'}): ` +
        'the demo injects faults into the simulator, so run it against `npm start` without MUSIC_API_BASE_URL',
    );
  }
  return (await response.json()) as T;
}

interface SimStats {
  requests: { byCode: Record<string, number> };
  tasks: Record<string, { callbacks: { dropped: number; forged: number } } | undefined>;
}

function report(stack: DemoStack, views: TaskView[], before: SimStats, after: SimStats, seconds: number) {
  const ready = views.filter((view) => view.ready).length;
  const sum = (pick: (view: TaskView) => number) => views.reduce((total, view) => total + pick(view), 0);
  const callbacks = (view: TaskView) => after.tasks[view.taskId]?.callbacks;
  const transient = TRANSIENT_CODES.reduce(
    (total, code) => total + (after.requests.byCode[code] ?? 0) - (before.requests.byCode[code] ?? 0),
    0,
  );
  console.log(`\n${views.length} tasks settled in ${seconds} s: ${ready} ready.`);
  console.log(
    `Absorbed: ${sum((view) => callbacks(view)?.dropped ?? 0)} dropped callbacks (found by ${sum((view) => view.pollCount)} polls), ` +
      `${sum((view) => view.receiptCounts.duplicates)} duplicates, ` +
      `${sum((view) => callbacks(view)?.forged ?? 0)} forged callbacks refused, ${transient} transient provider errors retried.\n`,
  );
  for (const view of views) {
    console.log(`${view.kind.padEnd(13)} ${view.taskId}  ${view.ready ? 'ready' : view.status}`);
    console.log(`  Temporal UI  ${stack.uiUrl}/namespaces/${stack.namespace}/workflows/${view.workflowId}`);
    if (view.error) console.log(`  error        ${view.error.code}: ${view.error.message}`);
    if (view.assets.length) {
      const bytes = view.assets.reduce((total, asset) => total + asset.bytes, 0);
      console.log(`  files        ${dirname(view.assets[0]!.path)}/ (${view.assets.length}, ${bytes} bytes)`);
      for (const asset of view.assets)
        console.log(`                 ${asset.name}  ${asset.type}  ${asset.bytes} B`);
    }
    for (const lyrics of view.lyrics ?? [])
      console.log(`  lyrics       "${lyrics.title ?? ''}" (kept in the task's state)`);
  }
}

/** Submits one task of every kind with the fault mix on, and shows them until all settle. */
async function runTasks(stack: DemoStack): Promise<number> {
  const api = new TasksApi(stack.apiUrl, process.env.API_TOKEN);
  const previousFaults = await simulator<Record<string, unknown>>(stack, 'GET', '/__sim/faults');
  const before = await simulator<SimStats>(stack, 'GET', '/__sim/stats');
  const restoreFaults = () => simulator(stack, 'PUT', '/__sim/faults', previousFaults);
  // Ctrl-C while watching: leave a shared simulator as it was found.
  const onInterrupt = () => void restoreFaults().finally(() => process.exit(130));
  process.once('SIGINT', onInterrupt);
  await simulator(stack, 'PUT', '/__sim/faults', FAULT_MIX);
  let views: TaskView[];
  const started = Date.now();
  try {
    console.log(
      `API ${stack.apiUrl}, simulator ${stack.simulatorUrl}, fault mix: ${JSON.stringify(FAULT_MIX)}\n`,
    );
    const run = randomBytes(3).toString('hex');
    console.log(`submitting ${TASK_KINDS.length} tasks, one of every kind…`);
    // A line per answer as it comes: the provider's transient faults delay some submissions.
    const submitted = await Promise.all(
      TASK_KINDS.map(async (kind) => {
        const task = await api.submit(kind, SAMPLE_INPUTS[kind], `demo-${run}-${kind}`);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        console.log(`  ${kind.padEnd(13)} ${task.taskId}  submitted after ${seconds} s`);
        return task;
      }),
    );
    console.log('');
    views = await watchTasks(
      api,
      submitted.map((task) => task.taskId),
      { intervalMs: 500 },
    );
  } finally {
    process.off('SIGINT', onInterrupt);
    await restoreFaults();
  }
  const after = await simulator<SimStats>(stack, 'GET', '/__sim/stats');
  report(stack, views, before, after, Math.round((Date.now() - started) / 1000));
  return views.every((view) => view.ready) ? 0 : 1;
}

async function main(): Promise<number> {
  const stack = await findOrStartStack();
  if (!stack.stop) return runTasks(stack);
  try {
    const code = await runTasks(stack);
    console.log('\nThe stack stays up so the links work. Ctrl-C stops it.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return code;
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
