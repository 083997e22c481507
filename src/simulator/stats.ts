import { type CallbackPhase } from './faults.ts';

export interface CallbackCounts {
  /** HTTP attempts, retries and forged ones included. */
  attempted: number;
  /** Attempts answered 2xx. */
  delivered: number;
  /** Attempts answered non-2xx, refused or timed out. */
  failed: number;
  /** Callbacks never sent because of the drop fault. */
  dropped: number;
  /** Callbacks sent without the URL's `token`. */
  forged: number;
  /** Callbacks abandoned after the last redelivery failed. */
  gaveUp: number;
}

/** One HTTP attempt at a callback. */
export interface DeliveryRecord {
  phase: CallbackPhase;
  /** 1, or 2 and 3 for the duplicate fault's copies. */
  copy: number;
  attempt: number;
  forged: boolean;
  premature: boolean;
  /** Milliseconds after the task was submitted. */
  atMs: number;
  status: number | null;
  error: string | null;
  delivered: boolean;
}

const noCallbacks = (): CallbackCounts => ({
  attempted: 0,
  delivered: 0,
  failed: 0,
  dropped: 0,
  forged: 0,
  gaveUp: 0,
});

/** What the service cost the provider: the counters behind `GET /__sim/stats`. */
export class SimStats {
  total = 0;
  byRoute: Record<string, number> = {};
  byCode: Record<string, number> = {};
  downloads: Record<string, number> = {};
  readonly taskCalls = new Map<string, Record<string, number>>();
  readonly taskCallbacks = new Map<string, CallbackCounts>();
  readonly deliveries = new Map<string, DeliveryRecord[]>();

  countRequest(route: string, code: number, taskId: string | undefined): void {
    this.total++;
    bump(this.byRoute, route);
    bump(this.byCode, String(code));
    if (taskId) {
      const calls = this.taskCalls.get(taskId) ?? {};
      bump(calls, route);
      this.taskCalls.set(taskId, calls);
    }
  }

  countDownload(path: string): void {
    bump(this.downloads, path);
  }

  callbacks(taskId: string): CallbackCounts {
    let counts = this.taskCallbacks.get(taskId);
    if (!counts) {
      counts = noCallbacks();
      this.taskCallbacks.set(taskId, counts);
    }
    return counts;
  }

  recordDelivery(taskId: string, record: DeliveryRecord): void {
    const counts = this.callbacks(taskId);
    counts.attempted++;
    if (record.delivered) counts.delivered++;
    else counts.failed++;
    const log = this.deliveries.get(taskId) ?? [];
    log.push(record);
    this.deliveries.set(taskId, log);
  }

  callbackTotals(): CallbackCounts {
    const totals = noCallbacks();
    for (const counts of this.taskCallbacks.values()) {
      for (const key of Object.keys(totals) as (keyof CallbackCounts)[]) totals[key] += counts[key];
    }
    return totals;
  }

  reset(): void {
    this.total = 0;
    this.byRoute = {};
    this.byCode = {};
    this.downloads = {};
    this.taskCalls.clear();
    this.taskCallbacks.clear();
    this.deliveries.clear();
  }
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
