/**
 * A provider file host for asset tests: serves any bytes under any path and content type, counts
 * downloads, and can stall a download half-way (to kill a worker in the middle of it).
 */
import { createServer, type ServerResponse, type Server } from 'node:http';

interface Served {
  body: Buffer;
  contentType?: string;
  status?: number;
  /** Bytes sent before the response stalls until {@link MediaSource.release}. */
  stallAfter?: number;
  /** Announce the full length but send only this many bytes, then end. */
  cutAfter?: number;
}

export class MediaSource {
  readonly downloads = new Map<string, number>();
  private readonly files = new Map<string, Served>();
  private readonly stalled = new Map<string, { response: ServerResponse; sent: number }[]>();
  private readonly stallWaiters = new Map<string, () => void>();
  private server: Server | undefined;
  base = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const path = request.url ?? '/';
      this.downloads.set(path, (this.downloads.get(path) ?? 0) + 1);
      const file = this.files.get(path);
      if (!file) return void response.writeHead(404).end();
      if (file.status && file.status !== 200) return void response.writeHead(file.status).end();
      response.writeHead(200, {
        'content-length': file.body.length,
        ...(file.contentType ? { 'content-type': file.contentType } : {}),
      });
      if (file.cutAfter !== undefined) {
        response.write(file.body.subarray(0, file.cutAfter));
        return void response.destroy();
      }
      if (file.stallAfter === undefined) return void response.end(file.body);
      const sent = file.stallAfter;
      response.write(file.body.subarray(0, sent), () => {
        this.stalled.set(path, [...(this.stalled.get(path) ?? []), { response, sent }]);
        this.stallWaiters.get(path)?.();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /** Serves `body` at `path`; answers the URL to fetch it from. */
  serve(path: string, body: Buffer, options: Omit<Served, 'body'> = {}): string {
    this.files.set(path, { body, ...options });
    return this.url(path);
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  count(path: string): number {
    return this.downloads.get(path) ?? 0;
  }

  /** Resolves once a download of `path` has stalled half-way. */
  whenStalled(path: string): Promise<void> {
    if (this.stalled.get(path)?.length) return Promise.resolve();
    return new Promise((resolve) => this.stallWaiters.set(path, resolve));
  }

  /** Lets `path` download whole from now on, and finishes the stalled downloads. */
  release(path: string): void {
    const file = this.files.get(path);
    if (file) delete file.stallAfter;
    for (const { response, sent } of this.stalled.get(path) ?? []) {
      if (!response.destroyed && file) response.end(file.body.subarray(sent));
    }
    this.stalled.delete(path);
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
