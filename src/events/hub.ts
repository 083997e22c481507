/**
 * The event feeds of one HTTP server: one {@link TaskFeed} per task with subscribers, one
 * {@link GlobalFeed} for the stream of all tasks, and the open streams, bounded.
 */
import type { Client, Connection } from '@temporalio/client';
import { GlobalFeed } from './globalFeed.ts';
import type { SseStream } from './sse.ts';
import { TaskFeed } from './taskFeed.ts';

export class EventHub {
  private readonly feeds = new Map<string, TaskFeed>();
  private readonly streams = new Set<SseStream>();
  readonly global: GlobalFeed;
  private closed = false;

  constructor(
    /** `taskQueue`: the deployment's workflow queue; the stream of all tasks shows its tasks only. */
    private readonly deps: { client: Client; connection: Connection; namespace: string; taskQueue: string },
    readonly maxStreams: number,
    onFound?: (lagMs: number) => void,
  ) {
    this.global = new GlobalFeed(deps.client, { taskQueue: deps.taskQueue, ...(onFound ? { onFound } : {}) });
  }

  get openStreams(): number {
    return this.streams.size;
  }

  get taskFeeds(): number {
    return this.feeds.size;
  }

  /** Whether one more stream may open (the caller answers 503 when not). */
  hasRoom(): boolean {
    return !this.closed && this.streams.size < this.maxStreams;
  }

  /** Counts a stream while it is open; the server's close ends it. */
  track(stream: SseStream): void {
    this.streams.add(stream);
    stream.onClose(() => this.streams.delete(stream));
  }

  task(taskId: string): TaskFeed {
    let feed = this.feeds.get(taskId);
    if (!feed) {
      feed = new TaskFeed(taskId, this.deps, (idle) => {
        if (this.feeds.get(taskId) === idle) this.feeds.delete(taskId);
      });
      this.feeds.set(taskId, feed);
    }
    return feed;
  }

  /** Ends every stream (clients reconnect elsewhere with their Last-Event-ID) and every feed. */
  close(): void {
    this.closed = true;
    for (const stream of [...this.streams]) stream.end();
    for (const feed of this.feeds.values()) feed.close();
    this.feeds.clear();
    this.global.close();
  }
}
