/**
 * Safe exposure defaults: an open API stays on loopback and answers loopback names only, `/metrics`
 * can leave the public port, and docker-compose publishes nothing beyond the host's loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { assertSafeExposure } from '../../src/api/exposure.ts';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/server.ts';
import { freePort } from '../support/ports.ts';
import { testConfig } from '../support/temporal.ts';

const root = join(import.meta.dirname, '..', '..');

/** A GET with a `Host` header of our choosing (fetch will not send one). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { headers: { host } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.once('error', reject);
    outgoing.end();
  });
}

describe('security: exposure defaults', () => {
  it('refuses to serve an open API on a non-loopback HOST unless API_OPEN says so', async () => {
    await assert.rejects(startServer(testConfig({ HOST: '0.0.0.0' })), /API_TOKEN.*API_OPEN=true/);
    assert.doesNotThrow(() => assertSafeExposure(testConfig({ HOST: '0.0.0.0', API_TOKEN: 'a-token' })));
    assert.doesNotThrow(() => assertSafeExposure(testConfig({ HOST: '0.0.0.0', API_OPEN: 'true' })));
    assert.doesNotThrow(() => assertSafeExposure(testConfig({ HOST: '127.0.0.1' })));
  });

  it('npm start stops before starting anything when HOST is public and the API open', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'start.ts')], {
      env: { ...process.env, ...{ HOST: '0.0.0.0', DATA_DIR: testConfig().dataDir, API_TOKEN: '' } },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr])
      stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    assert.equal(code, 1, output);
    assert.match(output, /API_TOKEN/);
    assert.doesNotMatch(output, /music-tasks is up/);
  });

  it('while open, answers only requests addressed to a loopback name (no DNS rebinding)', async () => {
    const server = await startServer(testConfig({ HOST: '127.0.0.1' }));
    try {
      const { port } = new URL(server.url);
      const rebound = await getWithHost(`${server.url}/v1/tasks`, `evil.example:${port}`);
      assert.equal(rebound.status, 403, rebound.body);
      assert.equal(JSON.parse(rebound.body).error, 'host_not_allowed');
      const metrics = await getWithHost(`${server.url}/metrics`, 'attacker.example');
      assert.equal(metrics.status, 403);
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
        assert.notEqual((await getWithHost(`${server.url}/healthz`, host)).status, 403, host);
        assert.notEqual((await getWithHost(`${server.url}/v1/tasks/abc`, host)).status, 403, host);
      }
      // Callbacks carry their own proof: the provider may call any name.
      const callback = await getWithHost(`${server.url}/webhooks/music/music`, 'provider-facing.example');
      assert.notEqual(callback.status, 403);
    } finally {
      await server.close();
    }
  });

  it('serves /metrics on METRICS_PORT only, when set', async () => {
    const metricsPort = await freePort();
    const server = await startServer(testConfig({ HOST: '127.0.0.1', METRICS_PORT: String(metricsPort) }));
    try {
      assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
      const own = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(own.status, 200);
      assert.match(await own.text(), /music_http_request_seconds/);
    } finally {
      await server.close();
    }
  });

  it('docker-compose publishes Temporal, its UI and every app port on 127.0.0.1 only', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { ports?: string[]; environment?: Record<string, string> }>;
    };
    const published = Object.entries(compose.services).flatMap(([name, service]) =>
      (service.ports ?? []).map((mapping) => [name, mapping] as const),
    );
    assert.ok(published.some(([name]) => name === 'temporal'));
    assert.ok(published.some(([name]) => name === 'temporal-ui'));
    for (const [name, mapping] of published)
      assert.match(mapping, /^127\.0\.0\.1:/, `${name} publishes ${mapping}`);
    const server = compose.services.server!.environment!;
    assert.ok(server.METRICS_PORT, 'the server serves metrics on a port of its own');
    assert.ok(compose.services.server!.ports!.some((mapping) => mapping.endsWith(`:${server.METRICS_PORT}`)));
    // Interpolation defaults as compose applies them with nothing set.
    const env = Object.fromEntries(
      Object.entries({ ...compose.services.server!.environment }).map(([key, value]) => [
        key,
        String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'),
      ]),
    );
    assert.doesNotThrow(() => assertSafeExposure(loadConfig(env)), 'the compose server starts');
  });
});
