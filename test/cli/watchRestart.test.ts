import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../support/ports.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'music-tasks.js');

/** Stands in for the API across a restart: answers the task's view, `ready` once told so. */
function fakeApi(port: number, ready: boolean): Promise<Server> {
  const server = createServer((request, response) => {
    const view = {
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
    };
    response.writeHead(request.url === '/v1/provider' ? 404 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(request.url === '/v1/provider' ? { error: 'not_found' } : view));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

describe('watch across an API restart', () => {
  it(
    'waits for the API to come back instead of exiting, then sees the task ready',
    { timeout: 30_000 },
    async () => {
      const port = await freePort();
      let server = await fakeApi(port, false);
      const child = spawn(process.execPath, [bin, 'watch', 'restart-task', '--interval', '100'], {
        env: { ...process.env, API_URL: `http://127.0.0.1:${port}`, API_TOKEN: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      while (!stdout.includes('PENDING')) await new Promise((resolve) => setTimeout(resolve, 50));
      await close(server);
      while (!stderr.includes('not answering')) await new Promise((resolve) => setTimeout(resolve, 50));
      server = await fakeApi(port, true);
      try {
        assert.equal(await exited, 0, stderr);
        assert.match(stderr, /the API at http:\/\/127\.0\.0\.1:\d+ is not answering; waiting for it/);
        assert.match(stdout, /ready/);
      } finally {
        await close(server);
      }
    },
  );
});
