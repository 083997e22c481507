/** The provider client keeps the API key on the configured host and reads bounded answers. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ProviderClient } from '../../src/provider/client.ts';
import { ProviderError } from '../../src/provider/errors.ts';

async function upstream(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request);
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('security: the provider client', () => {
  it('follows no redirect: the key never reaches another host', async () => {
    const elsewhere = await upstream((_request, response) =>
      response.end('{"code":200,"data":{"taskId":"x"}}'),
    );
    const provider = await upstream((_request, response) =>
      response.writeHead(307, { location: `${elsewhere.url}/suno/generate` }).end(),
    );
    try {
      const client = new ProviderClient({ baseUrl: provider.url, apiKey: 'the-key' });
      const error = await client
        .submit('lyrics', { prompt: 'a song' }, 'https://cb.example/x')
        .catch((e: unknown) => e);
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.type, 'ProviderUnavailable');
      assert.match(error.message, /redirect/);
      assert.equal(elsewhere.requests.length, 0, 'the redirect target was never called');
    } finally {
      await Promise.all([elsewhere.close(), provider.close()]);
    }
  });

  it('refuses an answer over its size cap, counted as it streams', async () => {
    const padding = 'x'.repeat(200_000);
    const provider = await upstream((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ code: 200, msg: padding, data: { taskId: 'big' } }));
    });
    try {
      const client = new ProviderClient({ baseUrl: provider.url, apiKey: 'k', maxAnswerBytes: 64 * 1024 });
      const error = await client
        .submit('lyrics', { prompt: 'a song' }, 'https://cb.example/x')
        .catch((e: unknown) => e);
      assert.ok(error instanceof ProviderError, String(error));
      assert.match(error.message, /over 65536 bytes/);
    } finally {
      await provider.close();
    }
  });

  it('refuses a plain-http base URL that is not loopback, unless told it is a private network', () => {
    assert.throws(() => new ProviderClient({ baseUrl: 'http://api.example.com', apiKey: 'k' }), /plain http/);
    assert.doesNotThrow(() => new ProviderClient({ baseUrl: 'https://api.example.com', apiKey: 'k' }));
    assert.doesNotThrow(() => new ProviderClient({ baseUrl: 'http://127.0.0.1:4000', apiKey: 'k' }));
    assert.throws(
      () => loadConfig({ MUSIC_API_BASE_URL: 'http://api.example.com', MUSIC_API_KEY: 'k' }),
      /MUSIC_API_BASE_URL must be https/,
    );
    assert.doesNotThrow(() =>
      loadConfig({
        MUSIC_API_BASE_URL: 'http://simulator:4000',
        MUSIC_API_KEY: 'k',
        MUSIC_API_ALLOW_HTTP: 'true',
      }),
    );
  });
});
