/** A Server-Sent Events client for tests: every message, comment and id as it came, read with fetch. */
import { createParser } from 'eventsource-parser';

export interface SseMessage {
  id: string | undefined;
  data: any;
  /** When it arrived (Date.now()). */
  receivedAt: number;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  /** Ids of blocks that carried an id and no data (the stream moving the client's Last-Event-ID). */
  readonly movedIds: string[] = [];
  /** Resolves when the server ends the stream (or it breaks). */
  readonly done: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private readonly abort = new AbortController();
  private ended = false;

  private constructor(readonly response: Response) {
    const parser = createParser({
      onEvent: (event) => {
        this.messages.push({ id: event.id, data: JSON.parse(event.data), receivedAt: Date.now() });
        this.wake();
      },
      onComment: (comment) => {
        this.comments.push(comment);
        this.wake();
      },
    });
    const streaming = response.ok && /^text\/event-stream/.test(response.headers.get('content-type') ?? '');
    if (!streaming) {
      this.ended = true;
      this.done = Promise.resolve();
      return;
    }
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    this.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const text = decoder.decode(value, { stream: true });
          for (const match of text.matchAll(/(?:^|\n)id: ([^\n]*)\n\n/g)) this.movedIds.push(match[1]!);
          parser.feed(text);
        }
      } catch {
        // aborted or broken: the stream is over either way
      } finally {
        this.ended = true;
        this.wake();
      }
    })();
  }

  /** Opens `url`; answers whatever status came (the body is read only for a 200). */
  static async open(
    url: string,
    options: { headers?: Record<string, string>; lastEventId?: string } = {},
  ): Promise<SseClient> {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    const client = new SseClient(response);
    client.abort.signal.addEventListener('abort', () => abort.abort());
    return client;
  }

  get status(): number {
    return this.response.status;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The id a reconnecting EventSource would send: the last message's, or a later id-only block's. */
  get lastEventId(): string | undefined {
    return this.messages.at(-1)?.id;
  }

  async json(): Promise<any> {
    return this.response.json();
  }

  /** Waits until `predicate` holds for the messages so far. */
  async waitFor(predicate: (messages: SseMessage[]) => boolean, timeoutMs = 30_000, what = 'messages') {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      if (this.ended) throw new Error(`stream ended before ${what}; got ${JSON.stringify(this.types())}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.types())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages;
  }

  /** Waits for the first message of `type` (after `from` messages). */
  async next(type: string, timeoutMs = 30_000, from = 0): Promise<SseMessage> {
    await this.waitFor(
      (messages) => messages.slice(from).some((message) => message.data.type === type),
      timeoutMs,
      `a ${type} event`,
    );
    return this.messages.slice(from).find((message) => message.data.type === type)!;
  }

  /** Waits for the server to end the stream. */
  async closedByServer(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the stream stayed open ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  types(): string[] {
    return this.messages.map((message) => `${message.id}:${message.data.type}`);
  }

  close(): void {
    this.abort.abort();
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
    this.waiters.clear();
  }
}
