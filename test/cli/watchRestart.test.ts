import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../support/ports.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'music-tasks.js');

const view = (ready: boolean) => ({
  taskId: 'restart-task',
  workflowId: 'music-task-restart-task',
  kind: 'lyrics',
  status: ready ? 'SUCCESS' : 'PENDING',
  ready,
  submittedAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  assets: [],
  receipts: [],
  receiptCounts: { total: 0, duplicates: 0, byPhase: {} },
  polls: [],
  pollCount: 0,
});

const event = (seq: number, type: string, ready: boolean) => ({
  seq,
  at: new Date().toISOString(),
  type,
  status: ready ? 'SUCCESS' : 'PENDING',
  ready,
  callbacks: 0,
  duplicates: 0,
  polls: ready ? 1 : 0,
  taskId: 'restart-task',
  kind: 'lyrics',
});

/**
 * Stands in for the API across a restart. Its event stream sends `tracking` (id 1) and stays open;
 * once told `ready`, it answers a reconnect after id 1 with `ready` (id 2) and ends. Without
 * `streams` the event route is missing (an older API): the CLI must poll.
 */
function fakeApi(
  port: number,
  ready: boolean,
  seen: { lastEventIds: (string | undefined)[]; eventRequests: number },
  streams = true,
): Promise<Server> {
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (url === '/v1/provider') {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'not_found' }));
      return;
    }
    if (url === '/v1/tasks/restart-task/events') {
      seen.eventRequests += 1;
      if (!streams) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: 'not_found', message: `no route GET ${url}` }));
        return;
      }
      const lastEventId = request.headers['last-event-id'] as string | undefined;
      seen.lastEventIds.push(lastEventId);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      if (lastEventId === undefined)
        response.write(`id: 1\ndata: ${JSON.stringify(event(1, 'tracking', false))}\n\n`);
      if (ready) {
        response.end(`id: 2\ndata: ${JSON.stringify(event(2, 'ready', true))}\n\n`);
        return;
      }
      response.write(': heartbeat\n\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(view(ready)));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

function watch(port: number) {
  const child = spawn(process.execPath, [bin, 'watch', 'restart-task', '--interval', '100'], {
    env: { ...process.env, API_URL: `http://127.0.0.1:${port}`, API_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { output, exited };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 50));
};

describe('watch across an API restart', () => {
  it(
    'follows the event stream, waits for the API to come back, resumes after its Last-Event-ID, sees the task ready',
    { timeout: 30_000 },
    async () => {
      const port = await freePort();
      const seen = { lastEventIds: [] as (string | undefined)[], eventRequests: 0 };
      let server = await fakeApi(port, false, seen);
      const { output, exited } = watch(port);
      await until(() => output.stdout.includes('PENDING') && seen.lastEventIds.length === 1);
      await close(server);
      await until(() => output.stderr.includes('not answering'));
      server = await fakeApi(port, true, seen);
      try {
        assert.equal(await exited, 0, output.stderr);
        assert.match(output.stderr, /the API at http:\/\/127\.0\.0\.1:\d+ is not answering; waiting for it/);
        assert.match(output.stdout, /ready/);
        // The first stream from the start, the one after the restart from the last event seen.
        assert.deepEqual(seen.lastEventIds, [undefined, '1']);
      } finally {
        await close(server);
      }
    },
  );

  it('polls an API that has no event stream', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const seen = { lastEventIds: [] as (string | undefined)[], eventRequests: 0 };
    let server = await fakeApi(port, false, seen, false);
    const { output, exited } = watch(port);
    await until(() => output.stdout.includes('PENDING') && seen.eventRequests === 1);
    await close(server);
    server = await fakeApi(port, true, seen, false);
    try {
      assert.equal(await exited, 0, output.stderr);
      assert.match(output.stdout, /ready/);
      assert.equal(seen.eventRequests, 1, 'asked for the stream once, then polled');
    } finally {
      await close(server);
    }
  });
});
