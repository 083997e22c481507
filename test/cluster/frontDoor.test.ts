/**
 * The cluster's front door in front of two replicas of its own: bodies reach a replica byte for
 * byte, requests are spread over both, and a replica that is down costs a caller nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { startFrontDoor } from '../../src/cluster/frontDoor.ts';
import { freePort } from '../support/ports.ts';

interface Seen {
  replica: number;
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

describe('front door', () => {
  const seen: Seen[] = [];
  let replicas: FastifyInstance[] = [];
  let door: FastifyInstance;
  let doorUrl: string;
  let deadPort: number;

  async function replica(index: number): Promise<{ app: FastifyInstance; url: string }> {
    const app = Fastify();
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    app.all('/*', async (request) => {
      seen.push({
        replica: index,
        method: request.method,
        url: request.url,
        contentType: request.headers['content-type'],
        body: typeof request.body === 'string' ? request.body : '',
      });
      return { replica: index };
    });
    return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
  }

  before(async () => {
    const started = await Promise.all([replica(1), replica(2)]);
    replicas = started.map((entry) => entry.app);
    deadPort = await freePort();
    const front = await startFrontDoor({
      host: '127.0.0.1',
      port: 0,
      replicas: [...started.map((entry) => entry.url), `http://127.0.0.1:${deadPort}`],
    });
    door = front.app;
    doorUrl = front.url;
  });

  after(async () => {
    await door.close();
    await Promise.all(replicas.map((app) => app.close()));
  });

  it('passes a body through byte for byte, with its content type and query string', async () => {
    // Spacing and key order that a parse and re-encode would change.
    const body = '{ "callbackType":"complete",  "task_id":"t1", "data":[] }';
    const response = await fetch(`${doorUrl}/webhooks/music/music?token=abc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
    });
    assert.equal(response.status, 200);
    const last = seen.at(-1)!;
    assert.equal(last.body, body);
    assert.equal(last.url, '/webhooks/music/music?token=abc');
    assert.equal(last.contentType, 'application/json; charset=utf-8');
  });

  it('spreads requests over the replicas and never fails one on the replica that is down', async () => {
    seen.length = 0;
    for (let n = 0; n < 30; n++) {
      const response = await fetch(`${doorUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n }),
      });
      assert.equal(response.status, 200, `request ${n}`);
    }
    assert.equal(seen.length, 30, 'each request reached a replica once');
    assert.ok(
      seen.some((entry) => entry.replica === 1) && seen.some((entry) => entry.replica === 2),
      'both live replicas served',
    );
  });
});

describe('front door and event streams', () => {
  it('passes a Server-Sent Events stream on as it comes, not when it ends', async () => {
    const { createServer } = await import('node:http');
    let finish: () => void = () => undefined;
    const upstream = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('id: 1\ndata: {"seq":1}\n\n');
      finish = () => response.end('id: 2\ndata: {"seq":2}\n\n');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as { port: number };
    const front = await startFrontDoor({
      host: '127.0.0.1',
      port: 0,
      replicas: [`http://127.0.0.1:${port}`],
    });
    try {
      const response = await fetch(`${front.url}/v1/events`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      assert.match(first, /id: 1/, 'the first event before the stream ends');
      finish();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      assert.match(rest, /id: 2/);
    } finally {
      await front.app.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});
