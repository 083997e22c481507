/**
 * The fetch policy against hostile file hosts, all on loopback: loopback is exactly the kind of
 * address the policy refuses unless the origin is allowed, so each host here is allowed or not per test.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { FetchPolicy, FetchPolicyError, isPublicAddress } from '../../src/fetchPolicy/index.ts';
import { encodePng } from '../../src/simulator/media.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import type { TaskResult } from '../../src/provider/types.ts';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A loopback host whose every request is answered by `handler`; counts what it was asked. */
async function host(handler: Handler) {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request);
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const policy = (allowed: string[], overrides: Partial<ConstructorParameters<typeof FetchPolicy>[0]> = {}) =>
  new FetchPolicy({
    allowedOrigins: allowed,
    maxBytes: { audio: 1_000_000, image: 10_000, video: 1_000_000 },
    idleTimeoutMs: 400,
    minBytesPerSecond: 200,
    ...overrides,
  });

async function refusal(promise: Promise<unknown>): Promise<FetchPolicyError> {
  const error = await promise.then(
    () => assert.fail('the fetch went through'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof FetchPolicyError, String(error));
  return error;
}

async function drain(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('security: the fetch policy', () => {
  let internal: Awaited<ReturnType<typeof host>>;
  before(async () => {
    internal = await host((_request, response) => response.end('INTERNAL-ADMIN-PAGE'));
  });
  after(() => internal.close());

  it('classifies addresses with the non-public ranges refused', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      '224.0.0.1',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  it('refuses loopback, metadata and private addresses, however the URL spells them, before connecting', async () => {
    const { port } = new URL(internal.url);
    for (const url of [
      `${internal.url}/`,
      `http://localhost:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`,
      `http://0x7f.1:${port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
    ]) {
      const error = await refusal(policy([]).get(url, 'audio'));
      assert.equal(error.code, 'address', url);
      assert.equal(error.kind, 'refused');
      assert.doesNotMatch(error.message, /INTERNAL/);
    }
    assert.equal(internal.requests.length, 0, 'the internal host was never asked');
  });

  it('refuses schemes other than http and https', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/a', 'data:text/plain,hi', 'gopher://x/']) {
      assert.equal((await refusal(policy([]).get(url, 'audio'))).code, 'scheme', url);
    }
  });

  it('checks every redirect target again, and follows a few at most', async () => {
    const bouncer = await host((request, response) => {
      if (request.url === '/to-internal')
        return void response.writeHead(302, { location: `${internal.url}/` }).end();
      const hop = Number(request.url?.slice(1) ?? 0);
      response.writeHead(302, { location: `/${hop + 1}` }).end();
    });
    try {
      const allowed = policy([bouncer.url]);
      assert.equal((await refusal(allowed.get(`${bouncer.url}/to-internal`, 'audio'))).code, 'address');
      assert.equal(internal.requests.length, 0, 'the redirect target was checked before any request');
      assert.equal((await refusal(allowed.get(`${bouncer.url}/0`, 'audio'))).code, 'redirects');
      assert.equal(bouncer.requests.filter((request) => request.url !== '/to-internal').length, 6);
    } finally {
      await bouncer.close();
    }
  });

  it('caps bytes per asset type while streaming, and refuses a declared length over the cap unread', async () => {
    const big = Buffer.alloc(50_000, 1);
    const source = await host((request, response) => {
      if (request.url === '/declared')
        return void response.writeHead(200, { 'content-length': big.length }).end(big);
      response.writeHead(200); // chunked: no length to trust
      response.end(big);
    });
    try {
      const allowed = policy([source.url]);
      assert.equal((await refusal(allowed.get(`${source.url}/declared`, 'image'))).code, 'too_large');
      const streamed = await allowed.get(`${source.url}/chunked`, 'image');
      assert.equal((await refusal(drain(streamed.body))).code, 'too_large');
      const audio = await allowed.get(`${source.url}/chunked`, 'audio');
      assert.equal((await drain(audio.body)).length, big.length, 'the audio cap is larger');
    } finally {
      await source.close();
    }
  });

  it('stops a source that trickles below the minimum rate, or goes idle', async () => {
    const source = await host((request, response) => {
      response.writeHead(200, { 'content-length': 10_000 });
      if (request.url === '/idle') return void response.flushHeaders();
      const drip = setInterval(() => response.write('x'), 100);
      response.once('close', () => clearInterval(drip));
    });
    try {
      const allowed = policy([source.url]);
      const startedAt = Date.now();
      const slow = await allowed.get(`${source.url}/trickle`, 'audio');
      assert.equal((await refusal(drain(slow.body))).code, 'too_slow');
      assert.ok(Date.now() - startedAt < 3_000, 'stopped within a few windows');
      const idle = await allowed.get(`${source.url}/idle`, 'audio');
      assert.equal((await refusal(drain(idle.body))).code, 'idle');
    } finally {
      await source.close();
    }
  });

  it('asks for identity encoding and never decompresses: the bytes counted are the bytes sent', async () => {
    const packed = gzipSync(Buffer.alloc(200_000, 7));
    const source = await host((_request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': packed.length }).end(packed);
    });
    try {
      const answer = await policy([source.url]).get(`${source.url}/bomb`, 'image');
      assert.deepEqual(await drain(answer.body), packed);
      assert.equal(source.requests[0]!.headers['accept-encoding'], 'identity');
    } finally {
      await source.close();
    }
  });
});

describe('security: the fetch policy for outbound notifications (POST)', () => {
  it('refuses internal targets, follows no redirect, and keeps a bounded answer', async () => {
    const internal = await host((_request, response) => response.end('INTERNAL'));
    const receiver = await host((request, response) => {
      if (request.url === '/moved')
        return void response.writeHead(307, { location: `${internal.url}/` }).end();
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => response.end(`${body}:${'a'.repeat(100_000)}`));
    });
    try {
      assert.equal((await refusal(policy([]).post(`${internal.url}/hook`, '{}'))).code, 'address');
      const allowed = policy([receiver.url]);
      const moved = await allowed.post(`${receiver.url}/moved`, '{}');
      assert.equal(moved.status, 307, 'the redirect is returned, not followed');
      const answered = await allowed.post(`${receiver.url}/hook`, 'ping', {
        headers: { 'content-type': 'text/plain' },
        maxAnswerBytes: 1_000,
      });
      assert.equal(answered.status, 200);
      assert.equal(answered.body.length, 1_000);
      assert.ok(answered.body.toString().startsWith('ping:'));
      assert.equal(internal.requests.length, 0);
    } finally {
      await Promise.all([internal.close(), receiver.close()]);
    }
  });
});

describe('security: downloads of a task go through the fetch policy (real stack)', () => {
  const provider = new FakeProvider();
  const media = new MediaServer();
  let internal: Awaited<ReturnType<typeof host>>;
  let planted: Awaited<ReturnType<typeof host>>;
  let stack: Stack;

  before(async () => {
    await media.start();
    internal = await host((_request, response) => response.writeHead(404).end('SECRET-INTERNAL-ANSWER'));
    planted = await host((_request, response) =>
      response
        .writeHead(200, { 'content-type': 'image/png' })
        .end(Buffer.concat([encodePng([1, 2, 3]), Buffer.alloc(100_000)])),
    );
    // The media host and the planted image host are allowed; the internal host is not.
    stack = await startStack({
      provider,
      mediaOrigins: [media.url, planted.url],
      env: { POLL_INTERVAL: '200ms', POLL_MAX_INTERVAL: '400ms', FETCH_MAX_IMAGE_BYTES: '20kb' },
    });
  });
  after(async () => {
    await stack.close();
    await Promise.all([internal.close(), planted.close(), media.close()]);
  });

  /** Tracks a finished song whose first track is changed by `plant`; answers its settled view. */
  async function finishedSong(plant: (track: NonNullable<TaskResult['tracks']>[number]) => void) {
    const taskId = await provider.submit('music');
    const result = media.songResult(taskId);
    plant(result.tracks![0]!);
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    return stack.waitForTask(taskId, (task) => task.ready || !!task.error, 30_000);
  }

  it('never fetches an internal URL the provider names, and says why without what it would answer', async () => {
    const view = await finishedSong((track) => (track.audioUrl = `${internal.url}/admin.mp3`));
    assert.equal(view.ready, false);
    assert.equal(view.error!.code, 'AssetRefused', JSON.stringify(view.error));
    assert.match(view.error!.message, /non-public address/);
    assert.equal(internal.requests.length, 0, 'the internal host was never asked');
  });

  it('refuses a cover image over its byte cap', async () => {
    const view = await finishedSong((track) => (track.imageUrl = `${planted.url}/cover.png`));
    assert.equal(view.error!.code, 'AssetRefused', JSON.stringify(view.error));
    assert.match(view.error!.message, /cap for image files/);
  });

  it('says the status an allowed host answered, never its body', async () => {
    const allowed = await startStack({
      provider,
      mediaOrigins: [media.url, internal.url],
      env: { POLL_INTERVAL: '200ms', POLL_MAX_INTERVAL: '400ms' },
    });
    try {
      const taskId = await provider.submit('music');
      const result = media.songResult(taskId);
      result.tracks![0]!.audioUrl = `${internal.url}/expired.mp3`;
      provider.set(taskId, 'music', 'SUCCESS', result);
      await allowed.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
      const view = await allowed.waitForTask(taskId, (task) => !!task.error, 30_000);
      assert.match(view.error!.message, /HTTP 404/);
      assert.doesNotMatch(JSON.stringify(view), /SECRET-INTERNAL-ANSWER/);
    } finally {
      await allowed.close();
    }
  });
});
