import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../../src/app.ts';
import { startDevServer } from '../../src/temporal/devServer.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig } from '../support/temporal.ts';
import { freePort } from '../support/ports.ts';

describe('webhook input handling', () => {
  let stack: Stack;
  const provider = new FakeProvider();

  before(async () => {
    stack = await startStack({ provider, env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' } });
  });
  after(() => stack.close());

  const raw = (body: string, contentType = 'application/json', token: string | null = stack.secret) =>
    fetch(stack.callbackUrl('music', token), {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });

  it('refuses non-JSON with 400 and a JSON error', async () => {
    const response = await raw('{"callbackType": "text", ');
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: string; message: string };
    assert.equal(body.error, 'invalid_json');
    assert.ok(body.message);
  });

  it('refuses an empty body with 400', async () => {
    assert.equal((await raw('')).status, 400);
  });

  it('refuses another content type with 415', async () => {
    const response = await raw('callbackType=text', 'application/x-www-form-urlencoded');
    assert.equal(response.status, 415);
    assert.equal(((await response.json()) as { error: string }).error, 'unsupported_media_type');
  });

  it('refuses an oversized body with 413', async () => {
    const big = JSON.stringify({
      callbackType: 'text',
      task_id: 'x',
      data: [],
      padding: 'x'.repeat(300 * 1024),
    });
    const response = await raw(big);
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: string }).error, 'payload_too_large');
  });

  it('checks the token before anything else: a forged oversized or broken body is a 401', async () => {
    assert.equal((await raw('x'.repeat(300 * 1024), 'application/json', 'forged')).status, 401);
    assert.equal((await raw('{broken', 'text/plain', null)).status, 401);
  });

  it('refuses mistyped and malformed callbacks with 400 and the validation message', async () => {
    const cases: [unknown, RegExp][] = [
      [{ callbackType: 'complete', data: [] }, /task_id: required/],
      [{ callbackType: 'sometimes', task_id: 'x', data: [] }, /callbackType/],
      [
        { callbackType: 'complete', task_id: 'x', data: [{ id: 'a', duration: 'long' }] },
        /data\.0\.duration: expected a number/,
      ],
      [
        { callbackType: 'complete', task_id: 'x', data: [{ id: 'a', audio_url: 42 }] },
        /data\.0\.audioUrl: expected a URL string/,
      ],
      [
        { code: 200, data: { callbackType: 'first', task_id: 'x', data: [{ id: 'a', image_url: {} }] } },
        /data\.data\.0\.imageUrl/,
      ],
      [[1, 2, 3], /expected a JSON object/],
    ];
    for (const [body, message] of cases) {
      const answer = await stack.postCallback('music', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error, 'invalid_callback');
      assert.match(answer.body.message, message);
    }
  });

  it('answers 404 for an unknown kind', async () => {
    const response = await fetch(`${stack.apiUrl}/webhooks/music/karaoke?token=${stack.secret}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(response.status, 404);
  });

  it('counts callbacks by kind, phase and outcome in /metrics', async () => {
    const taskId = await provider.submit('music');
    await stack.postCallback('music', songCallback('text', taskId));
    await stack.postCallback('music', songCallback('text', taskId), 'bad');
    const metrics = await (await fetch(`${stack.apiUrl}/metrics`)).text();
    assert.match(
      metrics,
      /music_webhook_callbacks_total\{kind="music",phase="text",outcome="signalled"\} \d+/,
    );
    assert.match(
      metrics,
      /music_webhook_callbacks_total\{kind="music",phase="unknown",outcome="unauthorized"\} \d+/,
    );
    assert.match(metrics, /music_webhook_signal_seconds_bucket/);
    assert.match(metrics, /process_resident_memory_bytes/);
    await stack.api('DELETE', `/v1/tasks/${taskId}`);
  });
});

describe('webhook while Temporal is unreachable', () => {
  it('answers 503 (so the provider retries) until Temporal is back, then the redelivery is recorded', async () => {
    const port = await freePort();
    const config = testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    const connection = Connection.lazy({ address: config.temporal.address, connectTimeout: '1s' });
    const client = new Client({ connection, namespace: 'default' });
    const app = await buildApp(config, { client, connection, webhookSecrets: [config.webhookSecret!] });
    const deliver = () =>
      app.inject({
        method: 'POST',
        url: `/webhooks/music/music?token=${config.webhookSecret}`,
        payload: songCallback('text', 'offline-task'),
      });
    let server: Awaited<ReturnType<typeof startDevServer>> | undefined;
    try {
      const refused = await deliver();
      assert.equal(refused.statusCode, 503);
      assert.equal(refused.json().error, 'temporal_unavailable');
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);

      server = await startDevServer({ port });
      let redelivered = await deliver();
      // The provider retries on its own schedule; a few quick retries stand in for it.
      for (let attempt = 0; attempt < 10 && redelivered.statusCode !== 200; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        redelivered = await deliver();
      }
      assert.equal(redelivered.statusCode, 200);
      const description = await client.workflow.getHandle('music-task-offline-task').describe();
      assert.equal(description.type, 'musicTask');
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    } finally {
      await app.close();
      await connection.close();
      await server?.stop();
    }
  });
});
