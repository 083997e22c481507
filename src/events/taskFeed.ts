/**
 * One task's events on this replica, shared by every subscriber of its stream: one query when the
 * workflow's history says something happened (a long poll on the history, which Temporal answers
 * as soon as an event is appended), not one poller per subscriber. Everything here is derived
 * from the workflow (its event log, its history): any replica gives the same answers.
 */
import { WorkflowNotFoundError, type Client, type Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { MusicTaskKindKey, musicTaskWorkflowId } from '../workflows/definitions.ts';
import type { EventsPage, TaskEvent } from '../workflows/events.ts';
import { readEvents } from './readEvents.ts';

const EventType = proto.temporal.api.enums.v1.EventType;
/** History events after which the task's state may have changed: a completed workflow task, a close. */
const CHANGES = new Set<number>([
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);

/** Events this replica keeps per task (the workflow keeps fewer: a late subscriber still gets them). */
const CACHE_KEPT = 200;
/** How long one history long poll may wait; Temporal answers sooner (about 20 s) when nothing happens. */
const LONG_POLL_MS = 30_000;
const QUERY_DEADLINE_MS = 5_000;
/** A failed query or long poll is tried again after this, doubling up to the maximum. */
const RETRY_MS = 250;
const RETRY_MAX_MS = 5_000;
/** A query without waiting for the long poll: this soon after a change, doubling to the maximum while quiet. */
const CHECK_MIN_MS = 250;
const CHECK_MAX_MS = 8_000;
/** A feed nobody subscribes to any more is dropped after this (a reconnect right away reuses it). */
export const FEED_IDLE_MS = 30_000;

export interface TaskSubscriber {
  /** New events, in order; the subscriber skips what it already has. */
  deliver(events: readonly TaskEvent[]): void;
  /** The task ended (its terminal event was delivered): the stream may close. */
  ended(): void;
}

export interface FeedDeps {
  client: Client;
  connection: Connection;
  namespace: string;
}

/** The terminal event of a workflow that closed without recording one (terminated, failed). */
function closedWithoutEnd(last: TaskEvent | undefined, seq: number, status: string, at: Date): TaskEvent {
  return {
    seq,
    at: at.toISOString(),
    type: 'failed',
    status: last?.status ?? 'PENDING',
    ready: false,
    callbacks: last?.callbacks ?? 0,
    duplicates: last?.duplicates ?? 0,
    polls: last?.polls ?? 0,
    error: {
      code: `WORKFLOW_${status}`,
      message: `the tracking workflow ended as ${status.toLowerCase()}; its history in the Temporal UI tells why`,
    },
  };
}

export class TaskFeed {
  /** Cached events, oldest first. */
  events: TaskEvent[] = [];
  lastSeq = 0;
  /** Oldest sequence number the workflow still keeps (older ones are gone). */
  firstSeq = 0;
  ended = false;
  /** The task's kind, from its search attributes. */
  kind = 'unknown';
  private readonly subscribers = new Set<TaskSubscriber>();
  private running = false;
  private abort = new AbortController();
  private runId: string | undefined;
  private historyToken: Uint8Array | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private primed: Promise<void> | undefined;
  /** Queries one at a time: two answers read against the same `lastSeq` would hand events on twice. */
  private refreshing: Promise<void> = Promise.resolve();
  private readonly workflowId: string;

  constructor(
    readonly taskId: string,
    private readonly deps: FeedDeps,
    private readonly onIdle: (feed: TaskFeed) => void,
  ) {
    this.workflowId = musicTaskWorkflowId(taskId);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Reads the task's log as it stands now. Throws WorkflowNotFoundError for a task that is not
   * tracked; a task whose worker does not answer yet is not an error (the feed keeps asking).
   */
  prime(): Promise<void> {
    // Subscribers that come together share one first read.
    this.primed ??= this.firstRead().catch((error: unknown) => {
      this.primed = undefined;
      throw error;
    });
    return this.primed;
  }

  private async firstRead(): Promise<void> {
    const description = await this.deps.client.workflow.getHandle(this.workflowId).describe();
    this.runId ??= description.runId;
    this.kind = description.typedSearchAttributes.get(MusicTaskKindKey) ?? 'unknown';
    await this.refreshNow();
  }

  /** Queries the log now (a client says it saw more than this replica has). */
  async refreshNow(): Promise<void> {
    try {
      await this.refresh();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw error;
    }
  }

  subscribe(subscriber: TaskSubscriber): () => void {
    clearTimeout(this.idleTimer);
    this.subscribers.add(subscriber);
    if (this.events.length) subscriber.deliver(this.events);
    if (this.ended) subscriber.ended();
    else this.start();
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size) return;
      this.abort.abort();
      this.abort = new AbortController();
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        if (!this.subscribers.size) this.onIdle(this);
      }, FEED_IDLE_MS);
      this.idleTimer.unref();
    };
  }

  /** Stops everything (the server closes). */
  close(): void {
    clearTimeout(this.idleTimer);
    this.abort.abort();
    this.subscribers.clear();
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      // A subscriber that came while the loop was winding down gets a loop of its own.
      if (this.subscribers.size && !this.ended) this.start();
    });
  }

  private async run(): Promise<void> {
    let retryMs = RETRY_MS;
    let checkMs = CHECK_MIN_MS;
    const signal = this.abort.signal;
    // The history long poll wakes the feed as the workflow moves; a query now and then (often
    // right after a change, rarely when quiet) catches a wake-up the long poll did not give.
    let waiting: Promise<{ closed: string | undefined }> | undefined;
    while (this.subscribers.size && !this.ended && !signal.aborted) {
      try {
        waiting ??= this.waitForChange(signal).then((closed) => ({ closed }));
        const outcome = await Promise.race([
          waiting,
          new Promise<'check'>((resolve) => setTimeout(() => resolve('check'), checkMs).unref()),
        ]);
        if (outcome === 'check') {
          const before = this.lastSeq;
          await this.refresh();
          checkMs = this.lastSeq > before ? CHECK_MIN_MS : Math.min(checkMs * 2, CHECK_MAX_MS);
          continue;
        }
        waiting = undefined;
        await this.refresh(outcome.closed);
        retryMs = RETRY_MS;
        checkMs = CHECK_MIN_MS;
      } catch (error) {
        waiting = undefined;
        if (signal.aborted) return;
        if (error instanceof WorkflowNotFoundError) {
          // Gone (deleted by retention): nothing more will come.
          this.finish();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  /**
   * Waits until the workflow's history says its state may have changed.
   * @returns the close status when the run closed for good (not continued as new)
   */
  private async waitForChange(signal: AbortSignal): Promise<string | undefined> {
    const { connection, namespace } = this.deps;
    for (;;) {
      const response = await withChildSignal(signal, (callSignal) =>
        connection.withAbortSignal(callSignal, () =>
          connection.withDeadline(Date.now() + LONG_POLL_MS, () =>
            connection.workflowService.getWorkflowExecutionHistory({
              namespace,
              execution: { workflowId: this.workflowId, ...(this.runId ? { runId: this.runId } : {}) },
              ...(this.historyToken?.length ? { nextPageToken: this.historyToken } : {}),
              waitNewEvent: true,
              maximumPageSize: 1000,
            }),
          ),
        ),
      );
      this.historyToken = response.nextPageToken ?? undefined;
      const events = response.history?.events ?? [];
      const continued = events.find(
        (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
      );
      if (continued) {
        // The next run carries the log on: follow it from its first event.
        this.runId = continued.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
        this.historyToken = undefined;
        return undefined;
      }
      const close = events.find(
        (event) => event.eventType !== null && event.eventType !== undefined && closeStatus(event.eventType),
      );
      if (close?.eventType) return closeStatus(close.eventType);
      if (events.some((event) => CHANGES.has(event.eventType ?? 0))) return undefined;
      if (!this.historyToken?.length && !events.length) {
        // Read to the end of a closed run: its status tells the rest.
        const description = await this.deps.client.workflow.getHandle(this.workflowId).describe();
        return description.status.name === 'RUNNING' ? undefined : description.status.name;
      }
    }
  }

  private refresh(closed?: string): Promise<void> {
    const next = this.refreshing.then(() => this.query(closed));
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  /** Queries the log for what is new and hands it on; `closed` is the status of a run that closed. */
  private async query(closed?: string): Promise<void> {
    if (this.ended) return;
    const handle = this.deps.client.workflow.getHandle(this.workflowId);
    let page: EventsPage;
    try {
      page = await readEvents(this.deps.client, this.taskId, this.lastSeq, QUERY_DEADLINE_MS, closed);
    } catch (error) {
      // A run that completed or was cancelled recorded its terminal event: ask again until it answers.
      if (
        !closed ||
        closed === 'COMPLETED' ||
        closed === 'CANCELED' ||
        error instanceof WorkflowNotFoundError
      )
        throw error;
      // Terminated or failed, and it cannot answer (it cannot be replayed): end with what is known.
      page = { events: [], lastSeq: this.lastSeq, firstSeq: this.firstSeq, ended: false };
    }
    this.firstSeq = page.firstSeq;
    const fresh = page.events.filter((event) => event.seq > this.lastSeq);
    if (closed && closed !== 'CONTINUED_AS_NEW' && !page.ended) {
      const description = await handle.describe();
      fresh.push(
        closedWithoutEnd(
          fresh.at(-1) ?? this.events.at(-1),
          Math.max(page.lastSeq, this.lastSeq) + 1,
          closed,
          description.closeTime ?? new Date(),
        ),
      );
    }
    if (fresh.length) {
      this.events.push(...fresh);
      if (this.events.length > CACHE_KEPT) this.events.splice(0, this.events.length - CACHE_KEPT);
      this.lastSeq = fresh.at(-1)!.seq;
      for (const subscriber of this.subscribers) subscriber.deliver(fresh);
    }
    if (page.ended || (closed && closed !== 'CONTINUED_AS_NEW')) this.finish();
  }

  private finish(): void {
    this.ended = true;
    for (const subscriber of this.subscribers) subscriber.ended();
  }
}

/**
 * Runs `fn` with a signal of its own that follows `parent`: each call's listeners go with its
 * signal, instead of piling up on the feed's, which lives for many calls.
 */
async function withChildSignal<T>(parent: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const child = new AbortController();
  const onAbort = () => child.abort();
  if (parent.aborted) child.abort();
  else parent.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(child.signal);
  } finally {
    parent.removeEventListener('abort', onAbort);
  }
}

function closeStatus(eventType: proto.temporal.api.enums.v1.EventType): string | undefined {
  switch (eventType) {
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      return 'COMPLETED';
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      return 'FAILED';
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      return 'TIMED_OUT';
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      return 'CANCELED';
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      return 'TERMINATED';
    default:
      return undefined;
  }
}
