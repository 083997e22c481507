/**
 * One Server-Sent Events response: `id:` and `data:` blocks, comment heartbeats while quiet, and
 * a bound on what a client that does not read may leave buffered (it is disconnected, and comes
 * back with its Last-Event-ID).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SseOptions {
  /** A comment line after this long without a write, so proxies and clients know the stream lives. */
  heartbeatMs: number;
  /** Bytes a slow client may leave unsent before it is disconnected. */
  maxBufferedBytes: number;
  /** How soon a client should reconnect (the stream's `retry:` field). */
  retryMs: number;
}

export class SseStream {
  private heartbeat: NodeJS.Timeout | undefined;
  private lastWrite = Date.now();
  private closedFlag = false;
  private readonly onCloseCallbacks: (() => void)[] = [];

  constructor(
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly options: SseOptions,
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Sends the headers and the retry hint; heartbeats start. */
  open(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies: pass each event on at once.
      'x-accel-buffering': 'no',
    });
    this.response.socket?.setNoDelay(true);
    this.write(`retry: ${this.options.retryMs}\n\n`);
    const close = () => this.close();
    this.request.once('close', close);
    this.response.once('close', close);
    this.response.once('error', close);
    const tick = Math.max(50, Math.floor(this.options.heartbeatMs / 2));
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastWrite >= this.options.heartbeatMs) this.comment('heartbeat');
    }, tick);
    this.heartbeat.unref();
  }

  onClose(callback: () => void): void {
    if (this.closedFlag) callback();
    else this.onCloseCallbacks.push(callback);
  }

  /** One event: `id:` (when given) and its JSON on one `data:` line. */
  send(id: string | undefined, data: unknown): void {
    // JSON.stringify escapes newlines inside strings: the payload is always one line.
    this.write(`${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
  }

  /** Moves the client's Last-Event-ID without an event (a block with an id and no data dispatches nothing). */
  moveId(id: string): void {
    this.write(`id: ${id}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  /** Ends the response after what was written. */
  end(): void {
    if (this.closedFlag) return;
    this.response.end();
    this.close();
  }

  private write(chunk: string): void {
    if (this.closedFlag) return;
    this.lastWrite = Date.now();
    this.response.write(chunk);
    if (this.response.writableLength > this.options.maxBufferedBytes) {
      // A client that does not read: drop it rather than keep its backlog in memory.
      this.response.destroy();
      this.close();
    }
  }

  private close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.heartbeat);
    for (const callback of this.onCloseCallbacks.splice(0)) callback();
  }
}
