import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { isNotifySecret, NOTIFY_SECRET_FILE, resolveNotifySecret } from '../../src/notifications/secret.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'music-tasks.js');
const dataDir = () => mkdtempSync(join(process.env.TEST_SCRATCH_DIR ?? tmpdir(), 'notify-secret-'));

/** `music-tasks notify-secret` as a user runs it. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, 'notify-secret', ...args], {
    env: { ...process.env, NOTIFY_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the notification signing secret', () => {
  it('is generated once into DATA_DIR as whsec_…, private, and the same after a restart', () => {
    const dir = dataDir();
    const first = resolveNotifySecret(loadConfig({ DATA_DIR: dir }));
    assert.ok(isNotifySecret(first), first);
    assert.doesNotThrow(() => new Webhook(first), 'standardwebhooks takes it');
    const file = join(dir, NOTIFY_SECRET_FILE);
    assert.equal(readFileSync(file, 'utf8').trim(), first);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // A restart reads the configuration anew: the worker and the CLI get the same secret.
    assert.equal(resolveNotifySecret(loadConfig({ DATA_DIR: dir })), first);
    assert.notEqual(resolveNotifySecret(loadConfig({ DATA_DIR: dataDir() })), first, 'one per DATA_DIR');
  });

  it('is NOTIFY_SECRET when set, which must be a whsec_ value', () => {
    const secret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const dir = dataDir();
    assert.equal(resolveNotifySecret(loadConfig({ DATA_DIR: dir, NOTIFY_SECRET: secret })), secret);
    assert.throws(() => readFileSync(join(dir, NOTIFY_SECRET_FILE)), /ENOENT/, 'nothing generated');
    for (const bad of ['hunter2hunter2hunter2', 'whsec_short', `whsec_${'!'.repeat(40)}`]) {
      assert.throws(
        () => loadConfig({ NOTIFY_SECRET: bad }),
        (error: unknown) =>
          error instanceof ConfigError &&
          /NOTIFY_SECRET=<\d+ characters, not shown>: expected whsec_/.test(error.message) &&
          !error.message.includes(bad),
      );
    }
  });

  it('refuses a kept file that is not a whsec_ secret instead of signing with it', () => {
    const dir = dataDir();
    writeFileSync(join(dir, NOTIFY_SECRET_FILE), 'not-a-secret\n');
    assert.throws(
      () => resolveNotifySecret(loadConfig({ DATA_DIR: dir })),
      /remove it to generate a new one/,
    );
  });

  it('is shown by `notify-secret`, the same on every run and as the worker reads it', async () => {
    const dir = dataDir();
    const first = await cli([], { DATA_DIR: dir });
    assert.equal(first.code, 0, first.stderr);
    const secret = first.stdout.trim();
    assert.ok(isNotifySecret(secret), secret);
    assert.equal(resolveNotifySecret(loadConfig({ DATA_DIR: dir })), secret);
    const again = await cli(['--json'], { DATA_DIR: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { secret, source: join(dir, NOTIFY_SECRET_FILE) });
    const given = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    const fromEnv = await cli(['--json'], { DATA_DIR: dataDir(), NOTIFY_SECRET: given });
    assert.deepEqual(JSON.parse(fromEnv.stdout), { secret: given, source: 'NOTIFY_SECRET' });
    const bad = await cli([], { NOTIFY_SECRET: 'whsec_nope' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /NOTIFY_SECRET/);
  });
});

describe('notification settings', () => {
  it('retry for hours by default, seconds when told', () => {
    const defaults = loadConfig({}).notify;
    assert.equal(defaults.url, undefined);
    assert.deepEqual(defaults.retry, {
      attemptTimeoutMs: 10_000,
      initialIntervalMs: 30_000,
      maximumIntervalMs: 3_600_000,
      giveUpAfterMs: 86_400_000,
    });
    const fast = loadConfig({
      NOTIFY_TIMEOUT: '2s',
      NOTIFY_RETRY_INTERVAL: '200ms',
      NOTIFY_RETRY_MAX_INTERVAL: '1s',
      NOTIFY_RETRY_FOR: '5s',
    }).notify.retry;
    assert.deepEqual(fast, {
      attemptTimeoutMs: 2_000,
      initialIntervalMs: 200,
      maximumIntervalMs: 1_000,
      giveUpAfterMs: 5_000,
    });
    assert.throws(
      () => loadConfig({ NOTIFY_RETRY_INTERVAL: '1h', NOTIFY_RETRY_MAX_INTERVAL: '1m' }),
      /NOTIFY_RETRY_MAX_INTERVAL/,
    );
    assert.throws(() => loadConfig({ NOTIFY_RETRY_FOR: 'soon' }), /NOTIFY_RETRY_FOR="soon"/);
  });

  it('refuse a NOTIFY_URL on a literal non-public address unless its origin is allowed', () => {
    assert.equal(
      loadConfig({ NOTIFY_URL: 'https://app.example/hooks' }).notify.url,
      'https://app.example/hooks',
    );
    for (const url of [
      'http://10.1.2.3/hooks',
      'http://127.0.0.1:9000/hooks',
      'http://[::1]:9000/',
      'http://169.254.169.254/',
    ]) {
      assert.throws(() => loadConfig({ NOTIFY_URL: url }), /NOTIFY_URL is a non-public address/, url);
    }
    const allowed = loadConfig({
      NOTIFY_URL: 'http://127.0.0.1:9000/hooks',
      FETCH_ALLOWED_ORIGINS: 'http://127.0.0.1:9000',
    });
    assert.equal(allowed.notify.url, 'http://127.0.0.1:9000/hooks');
    assert.throws(
      () => loadConfig({ NOTIFY_URL: 'ftp://app.example/' }),
      /NOTIFY_URL="ftp:\/\/app.example\/": expected an http\(s\) URL/,
    );
  });

  it('give PUBLIC_BASE_URL to notifications only when it is set', () => {
    assert.equal(loadConfig({}).notify.publicBaseUrl, undefined);
    assert.equal(
      loadConfig({ PUBLIC_BASE_URL: 'https://music.example/' }).notify.publicBaseUrl,
      'https://music.example',
    );
  });
});
