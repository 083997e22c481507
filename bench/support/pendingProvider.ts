/**
 * A provider for the scale benchmark: lyrics tasks that stay PENDING until {@link finish} is
 * called, then answer SUCCESS (lyrics have no files, so a task completes without downloads).
 * It counts queries: the service's polls, as the provider sees them.
 */
import { createServer, type Server } from 'node:http';

export class PendingProvider {
  queries = 0;
  finished = false;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://provider');
      const taskId = url.searchParams.get('taskId');
      if (request.method !== 'GET' || url.pathname !== '/suno/query/lyrics' || !taskId) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":404,"msg":"Not found"}');
        return;
      }
      this.queries++;
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(this.answer(taskId)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  private answer(taskId: string) {
    const lyricsData = [
      { text: `[Verse]\nwaiting ${taskId}`, title: 'Waiting', status: 'complete', errorMessage: '' },
    ];
    return {
      code: 200,
      msg: 'success',
      data: {
        taskId,
        param: '{"prompt":"scale"}',
        status: this.finished ? 'SUCCESS' : 'PENDING',
        type: 'LYRICS',
        response: this.finished ? { taskId, lyricsData } : null,
      },
    };
  }

  /** From now on every task is done. */
  finish(): void {
    this.finished = true;
  }

  /** From now on every task is pending again (for the next phase's new tasks). */
  reopen(): void {
    this.finished = false;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
