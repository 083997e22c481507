import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, resolveWebhookSecret } from '../src/config.ts';

describe('loadConfig', () => {
  it('gives the contract defaults for an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.publicBaseUrl, 'http://127.0.0.1:3000');
    assert.equal(config.temporal.embedded, true);
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.temporal.uiPort, 8233);
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.taskQueue, 'music-tasks');
    assert.equal(config.provider.simulated, true);
    assert.equal(config.provider.baseUrl, 'http://127.0.0.1:4000');
    assert.deepEqual(config.timing, {
      pollIntervalMs: 30_000,
      pollMaxIntervalMs: 300_000,
      taskDeadlineMs: 1_800_000,
    });
    assert.equal(config.apiToken, undefined);
    assert.equal(config.simulator.timeScale, 1);
    assert.ok(config.dataDir.endsWith('data'));
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      PUBLIC_BASE_URL: 'https://music.example.org/',
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TASK_QUEUE: 'q',
      MUSIC_API_BASE_URL: 'https://api.example.org',
      MUSIC_API_KEY: 'k',
      WEBHOOK_SECRET: 'a-secret-of-enough-length',
      POLL_INTERVAL: '500ms',
      POLL_MAX_INTERVAL: '5m',
      TASK_DEADLINE: '1h',
      DATA_DIR: '/srv/music',
      API_TOKEN: 't',
      SIMULATOR_PORT: '4100',
      SIMULATOR_TIME_SCALE: '0.05',
    });
    assert.equal(config.port, 8080);
    assert.equal(config.publicBaseUrl, 'https://music.example.org');
    assert.equal(config.temporal.embedded, false);
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.provider.simulated, false);
    assert.equal(config.provider.apiKey, 'k');
    assert.equal(config.timing.pollIntervalMs, 500);
    assert.equal(config.timing.taskDeadlineMs, 3_600_000);
    assert.equal(config.dataDir, '/srv/music');
    assert.equal(config.apiToken, 't');
    assert.equal(config.simulator.port, 4100);
    assert.equal(config.simulator.timeScale, 0.05);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ POLL_INTERVAL: 'soon' }, /POLL_INTERVAL="soon": expected a duration like 500ms, 30s or 5m/],
    [{ TASK_DEADLINE: '-5m' }, /TASK_DEADLINE/],
    [{ POLL_MAX_INTERVAL: '0s' }, /POLL_MAX_INTERVAL/],
    [{ PORT: 'eighty' }, /PORT="eighty"/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ SIMULATOR_TIME_SCALE: '-1' }, /SIMULATOR_TIME_SCALE/],
    [{ MUSIC_API_BASE_URL: 'ftp://x' }, /MUSIC_API_BASE_URL="ftp:\/\/x": expected an http\(s\) URL/],
    [
      { MUSIC_API_BASE_URL: 'https://api.example.org' },
      /MUSIC_API_KEY is required when MUSIC_API_BASE_URL is set/,
    ],
    [
      { POLL_INTERVAL: '10m', POLL_MAX_INTERVAL: '1m' },
      /POLL_MAX_INTERVAL .* must not be shorter than POLL_INTERVAL/,
    ],
    [{ WEBHOOK_SECRET: 'short' }, /WEBHOOK_SECRET.*at least 16/],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env)} with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }

  it('names every bad variable at once', () => {
    assert.throws(() => loadConfig({ PORT: 'x', POLL_INTERVAL: 'y' }), /PORT[\s\S]*POLL_INTERVAL/);
  });
});

describe('resolveWebhookSecret', () => {
  it('prefers WEBHOOK_SECRET', () => {
    assert.equal(
      resolveWebhookSecret({ webhookSecret: 'given-secret-0123456', dataDir: '/nonexistent' }),
      'given-secret-0123456',
    );
  });

  it('generates one secret and keeps it in DATA_DIR', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'secret-'));
    const first = resolveWebhookSecret({ webhookSecret: undefined, dataDir });
    assert.ok(first.length >= 24);
    assert.equal(resolveWebhookSecret({ webhookSecret: undefined, dataDir }), first);
    assert.equal(readFileSync(join(dataDir, 'webhook-secret'), 'utf8').trim(), first);
  });
});

describe('loadConfig with empty values', () => {
  it('takes NAME= as unset, as a shell user means it', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: '',
      MUSIC_API_BASE_URL: ' ',
      WEBHOOK_SECRET: '',
      PORT: '',
    });
    assert.equal(config.temporal.embedded, true);
    assert.equal(config.provider.simulated, true);
    assert.equal(config.webhookSecret, undefined);
    assert.equal(config.port, 3000);
  });
});
