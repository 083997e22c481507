import { createServer } from 'node:http';
import assert from 'node:assert/strict';
import { eventually } from './simulator-harness.ts';

export interface ReceivedCallback {
  path: string;
  token: string | null;
  body: any;
  /** Milliseconds since the receiver started. */
  at: number;
}

/**
 * A stand-in for the service's webhook: records every callback and answers with `statusFor`
 * (200 unless told otherwise; it is given the 1-based number of the callback).
 */
export async function startCallbackReceiver(statusFor: (count: number) => number = () => 200) {
  const received: ReceivedCallback[] = [];
  const started = Date.now();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://receiver');
      received.push({
        path: url.pathname,
        token: url.searchParams.get('token'),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        at: Date.now() - started,
      });
      response.writeHead(statusFor(received.length), { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    /** A callback URL carrying a token, like the service's. */
    url: `http://127.0.0.1:${address.port}/webhooks/music?token=secret-token`,
    received,
    /** Waits until at least `count` callbacks arrived. */
    waitFor: (count: number, timeoutMs = 3000) =>
      eventually(() => received.length >= count, timeoutMs, `${count} callbacks (got ${received.length})`),
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** The callback's own fields, whether it came bare or wrapped in `{code, msg, data}`. */
export function unwrap(body: any): any {
  return body && typeof body === 'object' && 'code' in body && 'msg' in body ? body.data : body;
}
