import type { Client } from '@temporalio/client';
import { Counter, Gauge, type Registry } from 'prom-client';
import { FAILURE_STATUSES, PROGRESS_STATUSES } from '../provider/kinds.ts';
import { MUSIC_TASK_WORKFLOW } from '../workflows/definitions.ts';
import { CANCELLED, TIMED_OUT } from '../workflows/state.ts';

const STATUSES = [...PROGRESS_STATUSES, ...FAILURE_STATUSES, TIMED_OUT, CANCELLED];
/** A scrape must not wait on a slow visibility store: past this the gauges are left empty. */
const COUNT_DEADLINE_MS = 3_000;

interface Counts {
  byStatus: Map<string, number>;
  open: number;
  ready: number;
}

/**
 * `music_tasks{namespace,status}`, `music_tasks_open` and `music_tasks_ready`, counted through
 * Temporal visibility when scraped (cached for `cacheMs`). SQL visibility groups by ExecutionStatus
 * only, so each status is one count query; a status this code does not know shows as `other`.
 */
export function registerTaskCounts(registry: Registry, client: Client, cacheMs = 15_000): void {
  const registers = [registry];
  const namespace = client.options.namespace;
  let cached: { at: number; counts: Promise<Counts | undefined> } | undefined;
  const current = () => {
    if (!cached || Date.now() - cached.at > cacheMs) {
      cached = {
        at: Date.now(),
        counts: countTasks(client).catch(() => {
          failures.inc();
          return undefined;
        }),
      };
    }
    return cached.counts;
  };
  const failures = new Counter({
    name: 'music_tasks_count_failures_total',
    help: 'Times Temporal visibility could not answer the task counts (the task gauges were left empty)',
    registers,
    // Read after this scrape's count has settled, so a failure shows in the same scrape.
    async collect() {
      await current();
    },
  });
  new Gauge({
    name: 'music_tasks',
    help: 'Tracked tasks (musicTask workflows, open and closed, within the namespace retention) by MusicTaskStatus',
    labelNames: ['namespace', 'status'] as const,
    registers,
    async collect() {
      this.reset();
      const counts = await current();
      for (const [status, count] of counts?.byStatus ?? []) this.labels(namespace, status).set(count);
    },
  });
  new Gauge({
    name: 'music_tasks_open',
    help: 'musicTask workflows still running (waiting for the provider or storing files)',
    labelNames: ['namespace'] as const,
    registers,
    async collect() {
      this.reset();
      const counts = await current();
      if (counts) this.labels(namespace).set(counts.open);
    },
  });
  new Gauge({
    name: 'music_tasks_ready',
    help: 'Tasks whose files are all stored (MusicTaskReady = true)',
    labelNames: ['namespace'] as const,
    registers,
    async collect() {
      this.reset();
      const counts = await current();
      if (counts) this.labels(namespace).set(counts.ready);
    },
  });
}

async function countTasks(client: Client): Promise<Counts> {
  const base = `WorkflowType="${MUSIC_TASK_WORKFLOW}"`;
  const count = (filter?: string) =>
    client.workflow.count(filter ? `${base} AND ${filter}` : base).then((answer) => answer.count);
  return client.withDeadline(Date.now() + COUNT_DEADLINE_MS, async () => {
    // allSettled: no call may still be in flight (and retrying) once this answers.
    const settled = await Promise.allSettled([
      count(),
      count('ExecutionStatus="Running"'),
      count('MusicTaskReady=true'),
      ...STATUSES.map((status) => count(`MusicTaskStatus="${status}"`)),
    ]);
    const [total = 0, open = 0, ready = 0, ...perStatus] = settled.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });
    const byStatus = new Map(STATUSES.map((status, index) => [status, perStatus[index] ?? 0]));
    const known = perStatus.reduce((sum, value) => sum + value, 0);
    byStatus.set('other', Math.max(0, total - known));
    return { byStatus, open, ready };
  });
}
