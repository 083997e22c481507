/**
 * Loading one worker with waiting tasks and reading what it costs: starts through
 * `startTracking`, memory probes of the bench worker, and waits for quiet or for every task to close.
 */
import type { Client } from '@temporalio/client';
import type { Service } from './service.ts';
import { TaskClient, type TrackingSettings } from '../../src/tasks/client.ts';
import { cpuSeconds, rssBytes } from './cpu.ts';
import type { ManagedProcess } from './processes.ts';
import { eachLimited } from './taskWatch.ts';
import type { WorkerProbe } from './workerProcess.ts';

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const HOUR = 3_600_000;

/** Tracking settings for lyrics tasks on the service's queues that poll every `pollMs`. */
export function lyricsTracking(service: Service, pollMs: number): TrackingSettings {
  return {
    taskQueue: service.env.TEMPORAL_TASK_QUEUE!,
    postprocessTaskQueue: service.env.POSTPROCESS_TASK_QUEUE!,
    providerTaskQueue: `${service.env.TEMPORAL_TASK_QUEUE!}-provider`,
    timing: { pollIntervalMs: pollMs, pollMaxIntervalMs: pollMs, taskDeadlineMs: 2 * HOUR },
  };
}

function probe(worker: ManagedProcess): Promise<WorkerProbe> {
  const child = worker.process;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the worker did not answer the memory probe')), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as WorkerProbe);
    });
    child.send('probe');
  });
}

/** The bench worker's RSS (from /proc) and V8 heap (from inside it). */
export async function memoryOf(worker: ManagedProcess): Promise<Memory> {
  const { memory } = await probe(worker);
  return { rss: rssBytes(worker.pid!) ?? memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal };
}

/** Waits until the processes have used less than 5 % of a core for two seconds in a row. */
export async function quiet(pids: number[], maxMs: number): Promise<number> {
  const started = Date.now();
  let calm = 0;
  while (Date.now() - started < maxMs && calm < 2) {
    const before = pids.map((pid) => cpuSeconds(pid) ?? 0);
    await sleep(1_000);
    const busiest = Math.max(...pids.map((pid, index) => (cpuSeconds(pid) ?? 0) - before[index]!));
    calm = busiest < 0.05 ? calm + 1 : 0;
  }
  return Date.now() - started;
}

/** Resolves when no musicTask workflow of the queue is running; the time it took. */
export async function drained(client: Client, queue: string, maxMs: number): Promise<number> {
  const started = Date.now();
  const query = `WorkflowType = 'musicTask' AND TaskQueue = '${queue}' AND ExecutionStatus = 'Running'`;
  while (Date.now() - started < maxMs) {
    if ((await client.workflow.count(query)).count === 0) return Date.now() - started;
    await sleep(250);
  }
  throw new Error(`tasks on ${queue} still running after ${maxMs} ms`);
}

/** Starts tracking lyrics tasks, 32 at a time; per-start latencies and the total time. */
export async function startTasks(client: Client, settings: TrackingSettings, ids: string[]) {
  const tasks = new TaskClient(client, settings);
  const latencies: number[] = [];
  const started = performance.now();
  await eachLimited(ids, 32, async (taskId) => {
    const begun = performance.now();
    await tasks.startTracking(taskId, 'lyrics', { submittedAt: new Date().toISOString() });
    latencies.push(performance.now() - begun);
  });
  return { seconds: (performance.now() - started) / 1000, latencies };
}

/** One `complete` callback per task through the webhook, 16 at a time. */
export async function completeByCallbacks(service: Service, ids: string[]): Promise<void> {
  await eachLimited(ids, 16, async (taskId) => {
    const response = await fetch(service.callbackUrl('lyrics'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        callbackType: 'complete',
        task_id: taskId,
        data: [{ text: 'done', title: 'Done' }],
      }),
    });
    await response.body?.cancel();
    if (response.status !== 200) throw new Error(`callback for ${taskId}: HTTP ${response.status}`);
  });
}
