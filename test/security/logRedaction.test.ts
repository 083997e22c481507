/**
 * No secret in a log line: the HTTP server's request logs (a real `npm run server` process, its
 * stdout read) and configuration errors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { freePort } from '../support/ports.ts';
import { scratchDir, temporalAddress } from '../support/temporal.ts';

const SECRET = 'Sup3r-Secret-Callback-Token';

describe('security: secrets stay out of logs', () => {
  it('request logs redact the callback credential however a request spells it', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'server.ts')],
      {
        env: {
          ...process.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: scratchDir('redaction'),
          TEMPORAL_ADDRESS: temporalAddress(),
          WEBHOOK_SECRET: 'the-webhook-secret-0123456789',
          // Request lines are logged at debug (a terminal shows only news at info).
          LOG_LEVEL: 'debug',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    for (const stream of [child.stdout, child.stderr])
      stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let attempt = 0; ; attempt++) {
        try {
          await fetch(`${base}/healthz`);
          break;
        } catch (error) {
          if (attempt > 600) throw error; // a loaded machine starts it slowly
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const spellings = [
        `token=${SECRET}`,
        `token=x&token=${SECRET}`,
        `TOKEN=${SECRET}`,
        `token[]=${SECRET}`,
        `%74oken=${SECRET}`,
        `nonce=s.k&sig=${SECRET}`,
        `Sig=${SECRET}`,
      ];
      for (const query of spellings) {
        const answer = await fetch(`${base}/webhooks/music/music?${query}`, { method: 'POST' });
        assert.equal(answer.status, 401, query);
      }
      // EventSource cannot send a header: the API token may come as ?token= on the event streams.
      for (const path of [
        `/v1/tasks/no-such-task/events?token=${SECRET}`,
        `/v1/events?kind=nope&token=${SECRET}`,
        `/v1/events?lastEventId=1&TOKEN=${SECRET}`,
      ]) {
        const answer = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2_000) }).catch(
          () => undefined,
        );
        await answer?.body?.cancel();
      }
      const stream = new AbortController();
      const open = await fetch(`${base}/v1/events?token=${SECRET}`, { signal: stream.signal });
      assert.equal(open.status, 200);
      stream.abort();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.match(output, /webhooks\/music\/music/, 'the requests were logged');
      assert.match(output, /v1\/events\?token=<redacted>/, 'the stream requests were logged');
      assert.ok(!output.includes(SECRET), output.split('\n').filter((line) => line.includes(SECRET))[0]);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it("a configuration error names the variable, never a secret's value", () => {
    const cases: Record<string, string> = {
      WEBHOOK_SECRET: 'short-secret',
      DATABASE_URL: 'mysql://user:db-password-1@db/x',
    };
    for (const [name, value] of Object.entries(cases)) {
      const error = (() => {
        try {
          loadConfig({ [name]: value });
        } catch (caught) {
          return caught;
        }
        return assert.fail(`${name}=${value} loaded`);
      })();
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(name));
      assert.ok(!error.message.includes(value), error.message);
    }
  });
});
