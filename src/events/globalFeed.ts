/**
 * Every task's events on this replica, for the stream of all tasks: one visibility poller shared
 * by all its subscribers. Each scan asks Temporal's visibility for the tasks whose newest event
 * (`MusicTaskEventAt`, epoch ms) is recent, with a look-back that covers visibility's lag; a task
 * whose `MusicTaskEventSeq` moved is queried for its new events, so each (task, seq) enters the
 * buffer once. The buffer is ordered by (recorded at, task id, seq), and an event is handed on only
 * once it has settled (older than visibility's recent lag, see {@link SETTLE_MIN_MS}), when every
 * event recorded before it has had time to show in visibility: a client's Last-Event-ID is then an exact place in one order that every replica
 * agrees on, and resuming from it neither misses nor repeats an event. Reconnecting from further
 * back than the buffer reaches reads the tasks changed since then from visibility.
 */
import type { Client } from '@temporalio/client';
import type { TaskKind } from '../provider/kinds.ts';
import {
  MUSIC_TASK_WORKFLOW,
  MusicTaskEventAtKey,
  MusicTaskEventSeqKey,
  MusicTaskKindKey,
} from '../workflows/definitions.ts';
import type { TaskEvent } from '../workflows/events.ts';
import { readEvents } from './readEvents.ts';
import { comparePositions, positionAt, type Position } from './eventIds.ts';

/** How often visibility is asked while someone subscribes. */
export const SCAN_INTERVAL_MS = 100;
/** How far behind the newest event each scan looks again: visibility's lag and clock skew. */
export const LOOKBACK_MS = 5_000;
/**
 * How old an event must be before it is handed on, so that visibility shows everything recorded
 * before it: at least this, more when scans find events later (the 99th percentile of the recent
 * ones, of the last 10 s: a busy worker completes its workflow tasks later), at most {@link SETTLE_MAX_MS}.
 */
export const SETTLE_MIN_MS = 250;
export const SETTLE_MAX_MS = 5_000;
/** Found-lags of this recent a window make the settle time: it recovers soon after a stall. */
const LAG_WINDOW_MS = 10_000;
const LAG_SAMPLES = 2_000;
/** The buffer keeps this many events at most, and none older than {@link BUFFER_AGE_MS}. */
const BUFFER_MAX = 20_000;
const BUFFER_AGE_MS = 5 * 60_000;
/** Queries in flight at once for one scan. */
const QUERY_CONCURRENCY = 8;
/** A query that takes longer is given up for this scan (the task is seen again next scan). */
const QUERY_DEADLINE_MS = 2_000;
/** A task that keeps not answering is asked again at most this far apart. */
const RETRY_FAILING_MAX_MS = 30_000;
/** A resume from further back than the buffer reads at most this many changed tasks. */
export const CATCH_UP_MAX_TASKS = 2_000;
/** A Last-Event-ID older than this is not resumed (the tasks' own logs are bounded). */
export const RESUME_MAX_AGE_MS = 24 * 3_600_000;

/** An event of the stream of all tasks: the task's event with the task it belongs to. */
export interface GlobalEvent extends TaskEvent {
  taskId: string;
  kind: TaskKind;
  position: Position;
}

export interface GlobalFilter {
  kind?: TaskKind;
  status?: string;
}

export function matches(event: GlobalEvent, filter: GlobalFilter): boolean {
  return (!filter.kind || event.kind === filter.kind) && (!filter.status || event.status === filter.status);
}

export interface GlobalSubscriber {
  filter: GlobalFilter;
  /** Events in order, each after the last one handed over. */
  deliver(events: readonly GlobalEvent[]): void;
  /** An event that showed in visibility later than the settle time allowed: sent, out of order. */
  late(event: GlobalEvent): void;
  /** Everything up to `position` has been handed over (a heartbeat may tell the client). */
  advance(position: Position): void;
}

/** A subscriber and how far it has been served. */
interface Entry extends GlobalSubscriber {
  /** Where it started: a late event from before then is not its business. */
  from: Position;
  position: Position;
}

interface KnownTask {
  kind: TaskKind;
  lastSeq: number;
  lastAtMs: number;
}

interface Row {
  taskId: string;
  /** The run's status in visibility (`RUNNING`, `COMPLETED`, …). */
  status: string;
  kind: TaskKind;
  seq: number;
  atMs: number;
}

const toGlobal = (taskId: string, kind: TaskKind, event: TaskEvent): GlobalEvent => ({
  ...event,
  taskId,
  kind,
  position: { atMs: Date.parse(event.at), taskId, seq: event.seq },
});

export interface GlobalFeedStats {
  scans: number;
  scanFailures: number;
  late: number;
  buffered: number;
  /** How old an event is when it is handed on, now. */
  settleMs: number;
}

export class GlobalFeed {
  private buffer: GlobalEvent[] = [];
  /** The buffer holds every event after this position. */
  private start: Position = positionAt(0);
  /** Everything up to here has been handed to the subscribers. */
  private released: Position = positionAt(0);
  private readonly known = new Map<string, KnownTask>();
  private readonly subscribers = new Set<Entry>();
  private newestAtMs = 0;
  /** Tasks whose query is out, with the time after which their unknown events lie. */
  private readonly inFlight = new Map<string, number>();
  private queriesRunning = 0;
  /** Tasks whose last query failed, and when to ask again. */
  private readonly failing = new Map<string, { failures: number; retryAt: number }>();
  /** Moves when the poller stops and forgets: a query answered after that is dropped. */
  private generation = 0;
  private readonly queryQueue: (() => Promise<void>)[] = [];
  /** Subscribers still catching up (not in `subscribers` yet). */
  private pending = 0;
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  readonly stats: GlobalFeedStats = {
    scans: 0,
    scanFailures: 0,
    late: 0,
    buffered: 0,
    settleMs: SETTLE_MIN_MS,
  };
  /** When the last scan that answered asked visibility: what it could not see yet is newer. */
  private scannedAt = 0;

  constructor(
    private readonly client: Client,
    private readonly options: {
      /** The deployment's workflow queue: a namespace shared with other deployments shows this one's tasks. */
      taskQueue: string;
      scanIntervalMs?: number;
      settleMs?: number;
      /** Told, for each event found, how long after it was recorded the scan that found it began. */
      onFound?: (lagMs: number) => void;
    },
  ) {}

  private lags: { at: number; lagMs: number }[] = [];
  private adaptiveSettleMs = SETTLE_MIN_MS;
  /** When this poller began: events recorded before it say nothing about visibility's lag. */
  private begunAt = 0;

  get settleMs(): number {
    return this.options.settleMs ?? this.adaptiveSettleMs;
  }

  private noteLag(lagMs: number): void {
    this.options.onFound?.(lagMs);
    this.lags.push({ at: Date.now(), lagMs });
    if (this.lags.length > LAG_SAMPLES) this.lags.shift();
  }

  private updateSettle(): void {
    const since = Date.now() - LAG_WINDOW_MS;
    while (this.lags.length && this.lags[0]!.at < since) this.lags.shift();
    if (!this.lags.length) {
      this.adaptiveSettleMs = SETTLE_MIN_MS;
      return;
    }
    const sorted = this.lags.map((sample) => sample.lagMs).sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    this.adaptiveSettleMs = Math.min(SETTLE_MAX_MS, Math.max(SETTLE_MIN_MS, p99 + 50));
  }

  /** The position a client that gives no Last-Event-ID starts from: now. */
  now(): Position {
    return positionAt(Date.now() - this.settleMs);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Subscribes from `from`: events after it are handed over in order (read from visibility first
   * when the buffer does not reach back so far), then new ones as they settle.
   */
  async subscribe(subscriber: GlobalSubscriber, from: Position, signal: AbortSignal): Promise<() => void> {
    // Counted from now: the poller keeps its buffer while a subscriber is still catching up.
    this.pending += 1;
    let position = from;
    try {
      this.begin();
      // The buffer holds what came after `start`; anything older is read from visibility first.
      while (comparePositions(position, this.start) < 0 && !signal.aborted) {
        const upTo = this.start;
        const missed = await this.catchUp(position, subscriber.filter, signal);
        const before = missed.filter((event) => comparePositions(event.position, upTo) <= 0);
        if (before.length && !signal.aborted) subscriber.deliver(before);
        position = upTo;
      }
    } finally {
      this.pending -= 1;
    }
    if (signal.aborted) return () => undefined;
    const entry: Entry = {
      filter: subscriber.filter,
      from,
      position,
      deliver: (events) => subscriber.deliver(events),
      late: (event) => subscriber.late(event),
      advance: (to) => subscriber.advance(to),
    };
    this.subscribers.add(entry);
    // What the buffer already holds up to the released mark, then the mark itself.
    this.release(entry, this.released);
    return () => {
      this.subscribers.delete(entry);
    };
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.subscribers.clear();
  }

  private begin(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    if (!this.buffer.length && !this.known.size) {
      // A new poller starts its buffer at the look-back: anything earlier is read on demand.
      this.start = positionAt(Date.now() - LOOKBACK_MS);
      this.released = this.start;
      this.lags = [];
      this.adaptiveSettleMs = SETTLE_MIN_MS;
    }
    this.begunAt = Date.now();
    const loop = async () => {
      if (this.stopped) return;
      if (!this.subscribers.size && !this.pending) {
        // Nobody listens: stop scanning; the next subscriber starts again from its own position.
        this.running = false;
        this.generation += 1;
        this.buffer = [];
        this.known.clear();
        this.failing.clear();
        this.stats.buffered = 0;
        return;
      }
      try {
        await this.scan();
      } catch {
        this.stats.scanFailures += 1;
      }
      this.releaseAll();
      this.timer = setTimeout(() => void loop(), this.options.scanIntervalMs ?? SCAN_INTERVAL_MS);
      this.timer.unref();
    };
    // The first scan waits a moment: a subscribe that is catching up registers first.
    this.timer = setTimeout(() => void loop(), 0);
    this.timer.unref();
  }

  /** Tasks whose newest event is at or after `sinceMs`, from visibility. */
  private async *rows(sinceMs: number, filter: GlobalFilter = {}, limit = Infinity): AsyncGenerator<Row> {
    const clauses = [
      `WorkflowType = '${MUSIC_TASK_WORKFLOW}'`,
      `TaskQueue = '${this.options.taskQueue.replace(/'/g, '')}'`,
      `MusicTaskEventAt >= ${Math.floor(sinceMs)}`,
    ];
    if (filter.kind) clauses.push(`MusicTaskKind = '${filter.kind}'`);
    let count = 0;
    for await (const execution of this.client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: 1000,
    })) {
      const attributes = execution.typedSearchAttributes;
      const seq = attributes.get(MusicTaskEventSeqKey);
      const atMs = attributes.get(MusicTaskEventAtKey);
      if (seq === undefined || atMs === undefined) continue;
      yield {
        taskId: execution.workflowId.replace(/^music-task-/, ''),
        status: execution.status.name,
        kind: (attributes.get(MusicTaskKindKey) ?? 'music') as TaskKind,
        seq: Number(seq),
        atMs: Number(atMs),
      };
      if (++count >= limit) return;
    }
  }

  private async eventsOf(taskId: string, afterSeq: number, status?: string): Promise<TaskEvent[]> {
    return (await readEvents(this.client, taskId, afterSeq, QUERY_DEADLINE_MS, status)).events;
  }

  /**
   * One visibility read: each task whose `MusicTaskEventSeq` moved gets a query of its new events,
   * in the background (a slow query does not hold the next scans). While a task's query is out,
   * nothing after its last known event is released (see {@link releaseAll}).
   */
  private async scan(): Promise<void> {
    this.stats.scans += 1;
    const startedAt = Date.now();
    const since = Math.min(this.newestAtMs || Date.now(), Date.now()) - LOOKBACK_MS;
    for await (const row of this.rows(since)) {
      const known = this.known.get(row.taskId);
      const retryAt = this.failing.get(row.taskId)?.retryAt ?? 0;
      if ((!known || row.seq > known.lastSeq) && !this.inFlight.has(row.taskId) && retryAt <= startedAt)
        this.fetch(row, startedAt);
      if (row.atMs > this.newestAtMs) this.newestAtMs = row.atMs;
    }
    this.scannedAt = startedAt;
    this.updateSettle();
    this.stats.settleMs = this.settleMs;
    this.trim();
  }

  /** Queries a task's new events (at most {@link QUERY_CONCURRENCY} at once) and files them. */
  private fetch(row: Row, listedAt: number): void {
    const known = this.known.get(row.taskId);
    // Its unknown events come after what is known of it (after the buffer's start for a new task).
    // A task that did not answer last time (its worker is gone) holds nobody back.
    if (!this.failing.has(row.taskId))
      this.inFlight.set(row.taskId, known ? known.lastAtMs : this.start.atMs);
    else this.inFlight.set(row.taskId, Infinity);
    const generation = this.generation;
    const run = async () => {
      try {
        const events = await this.eventsOf(row.taskId, known?.lastSeq ?? 0, row.status);
        if (generation !== this.generation) return;
        // Only what is still new counts.
        const current = this.known.get(row.taskId);
        const fresh = events.filter((event) => event.seq > (current?.lastSeq ?? 0));
        const newest = fresh.at(-1);
        if (!newest) return;
        this.known.set(row.taskId, { kind: row.kind, lastSeq: newest.seq, lastAtMs: Date.parse(newest.at) });
        for (const event of fresh) {
          // Lag from being recorded to the visibility read that showed it (the query's time not counted).
          if (Date.parse(event.at) >= this.begunAt) this.noteLag(listedAt - Date.parse(event.at));
        }
        this.failing.delete(row.taskId);
        this.add(fresh.map((event) => toGlobal(row.taskId, row.kind, event)));
      } catch {
        // Asked again a little later (its seq is still ahead); meanwhile it holds nothing back.
        const failures = (this.failing.get(row.taskId)?.failures ?? 0) + 1;
        this.failing.set(row.taskId, {
          failures,
          retryAt: Date.now() + Math.min(RETRY_FAILING_MAX_MS, 500 * 2 ** failures),
        });
      } finally {
        this.inFlight.delete(row.taskId);
        this.queryDone();
      }
    };
    if (this.queriesRunning < QUERY_CONCURRENCY) {
      this.queriesRunning += 1;
      void run();
    } else {
      this.queryQueue.push(run);
    }
  }

  private queryDone(): void {
    const next = this.queryQueue.shift();
    if (next) void next();
    else this.queriesRunning -= 1;
  }

  /** Index of the first buffered event after `position` (binary search). */
  private after(position: Position): number {
    let low = 0;
    let high = this.buffer.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (comparePositions(this.buffer[middle]!.position, position) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Puts new events in their place; one already handed on is late, and is sent out of order. */
  private add(events: GlobalEvent[]): void {
    for (const event of events) {
      if (comparePositions(event.position, this.start) <= 0) continue;
      const index = this.after(event.position);
      // Already here (found again): once is enough.
      if (index > 0 && comparePositions(this.buffer[index - 1]!.position, event.position) === 0) continue;
      this.buffer.splice(index, 0, event);
      if (comparePositions(event.position, this.released) <= 0) {
        this.stats.late += 1;
        for (const subscriber of this.subscribers) {
          if (comparePositions(event.position, subscriber.from) > 0 && matches(event, subscriber.filter))
            subscriber.late(event);
        }
      }
    }
    this.stats.buffered = this.buffer.length;
  }

  private trim(): void {
    const oldest = Date.now() - BUFFER_AGE_MS;
    let drop = 0;
    while (
      drop < this.buffer.length &&
      comparePositions(this.buffer[drop]!.position, this.released) <= 0 &&
      (this.buffer.length - drop > BUFFER_MAX || this.buffer[drop]!.position.atMs < oldest)
    )
      drop++;
    if (drop) {
      this.start = this.buffer[drop - 1]!.position;
      this.buffer.splice(0, drop);
    }
    if (this.buffer.length === 0 && this.released.atMs < oldest) this.start = this.released;
    for (const [taskId, failing] of this.failing) {
      if (failing.retryAt < Date.now() - 60_000) this.failing.delete(taskId);
    }
    for (const [taskId, known] of this.known) {
      if (known.lastAtMs < this.start.atMs - LOOKBACK_MS) this.known.delete(taskId);
    }
    this.stats.buffered = this.buffer.length;
  }

  /** Hands every settled event on to every subscriber. */
  private releaseAll(): void {
    const previous = this.released;
    // Settled: recorded long enough before the last visibility read that it would have shown, and
    // not after what a task still being queried may hold.
    let settledAt = this.scannedAt - this.settleMs;
    for (const floor of this.inFlight.values()) settledAt = Math.min(settledAt, floor);
    const settled = positionAt(settledAt);
    if (comparePositions(settled, this.released) > 0) this.released = settled;
    // The events that settled since the last time, found once for everyone.
    const fresh = this.buffer.slice(this.after(previous), this.after(this.released));
    for (const subscriber of this.subscribers) this.release(subscriber, this.released, fresh);
  }

  /** Hands `subscriber` what it has not had up to `upTo`, from `candidates` (default: the buffer). */
  private release(subscriber: Entry, upTo: Position, candidates?: readonly GlobalEvent[]): void {
    const pool = candidates ?? this.buffer.slice(this.after(subscriber.position), this.after(upTo));
    const due = pool.filter(
      (event) =>
        comparePositions(event.position, subscriber.position) > 0 &&
        comparePositions(event.position, upTo) <= 0 &&
        matches(event, subscriber.filter),
    );
    if (due.length) subscriber.deliver(due);
    if (comparePositions(upTo, subscriber.position) > 0) {
      subscriber.position = upTo;
      subscriber.advance(upTo);
    }
  }

  /** Events after `from`, read from visibility and the tasks' logs (a resume from before the buffer). */
  private async catchUp(from: Position, filter: GlobalFilter, signal: AbortSignal): Promise<GlobalEvent[]> {
    const rows: Row[] = [];
    for await (const row of this.rows(from.atMs, filter, CATCH_UP_MAX_TASKS)) {
      if (signal.aborted) return [];
      rows.push(row);
    }
    const found: GlobalEvent[] = [];
    await eachLimited(rows, QUERY_CONCURRENCY, async (row) => {
      if (signal.aborted) return;
      let events: TaskEvent[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          events = await this.eventsOf(row.taskId, 0, row.status);
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        }
      }
      for (const event of events) {
        const global = toGlobal(row.taskId, row.kind, event);
        if (comparePositions(global.position, from) > 0 && matches(global, filter)) found.push(global);
      }
    });
    return found.sort((a, b) => comparePositions(a.position, b.position));
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await run(items[next++]!);
  });
  await Promise.all(lanes);
}
