import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { AssetError } from '../../src/activities/assetErrors.ts';
import type { AssetStore } from '../../src/activities/assetStore.ts';
import { openAssetStore } from '../../src/activities/openAssetStore.ts';
import type { Config } from '../../src/config.ts';
import { encodeMp3, encodePng, mp3Duration } from '../../src/simulator/media.ts';
import type { AssetSpec } from '../../src/workflows/assetPlan.ts';
import { scratchDir, testConfig } from '../support/temporal.ts';
import { MediaSource } from './mediaSource.ts';
import { startS3Server, type S3TestServer } from './s3Server.ts';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

const failsWith =
  (type: AssetError['type'], pattern = /./) =>
  (error: unknown) => {
    assert.ok(error instanceof AssetError, `an AssetError, got ${String(error)}`);
    assert.equal(error.type, type);
    assert.match(error.message, pattern);
    return true;
  };

for (const backend of ['fs', 's3'] as const) {
  describe(`asset store (${backend === 'fs' ? 'filesystem' : 'S3-compatible, s3rver'})`, () => {
    const media = new MediaSource();
    let s3: S3TestServer | undefined;
    let env: Record<string, string>;
    let config: Config;
    let store: AssetStore;
    let nextTask = 0;

    before(async () => {
      await media.start();
      if (backend === 's3') s3 = await startS3Server();
      env = { DATA_DIR: scratchDir(`store-${backend}`), FETCH_ALLOWED_ORIGINS: media.base, ...s3?.env };
      config = testConfig(env);
      store = await openAssetStore(config);
    });
    after(async () => {
      await media.close();
      await s3?.close();
    });

    /** A fresh task's audio spec served from `media`. */
    function audio(body = encodeMp3(117), options: Parameters<MediaSource['serve']>[2] = {}) {
      const taskId = `task${++nextTask}`;
      const path = `/${taskId}/a.mp3`;
      const spec: AssetSpec = {
        id: `${taskId}-a-audio`,
        taskId,
        kind: 'music',
        type: 'audio',
        name: 'a-audio.mp3',
        trackId: `${taskId}-a`,
        sourceUrl: media.serve(path, body, { contentType: 'audio/mpeg', ...options }),
        declaredDuration: mp3Duration(117),
      };
      return { spec, path, body };
    }
    const pathOf = (spec: AssetSpec) =>
      (store as unknown as { pathOf(spec: AssetSpec): string }).pathOf(spec);

    it('stores a file once, with the checksum of the source bytes and its media facts', async () => {
      const { spec, path, body } = audio();
      const stored = await store.store(spec);
      assert.equal(stored.sha256, sha256(body));
      assert.equal(stored.bytes, body.length);
      assert.equal(stored.contentType, 'audio/mpeg');
      assert.ok(Math.abs(stored.durationSeconds! - 3.06) < 0.1);
      assert.equal(stored.path, pathOf(spec));
      assert.deepEqual(await bytesOf(await store.read(stored.path)), body);

      assert.deepEqual(await store.store(spec), stored, 'a retry answers the same copy');
      assert.deepEqual(await (await openAssetStore(config)).store(spec), stored, 'so does another worker');
      assert.equal(media.count(path), 1, 'the source is fetched once');
    });

    it('keeps an image with its decoded size', async () => {
      const taskId = `task${++nextTask}`;
      const body = encodePng([200, 100, 50]);
      const stored = await store.store({
        id: `${taskId}-image`,
        taskId,
        kind: 'music',
        type: 'image',
        name: 'a-image.png',
        sourceUrl: media.serve(`/${taskId}/a.png`, body, { contentType: 'image/png' }),
      });
      assert.deepEqual([stored.width, stored.height, stored.contentType], [64, 64, 'image/png']);
      assert.equal(stored.sha256, sha256(body));
    });

    it('reads byte ranges of a stored copy', async () => {
      const { spec, body } = audio();
      const stored = await store.store(spec);
      assert.deepEqual(
        await bytesOf(await store.read(stored.path, { start: 10, end: 19 })),
        body.subarray(10, 20),
      );
      const tail = { start: body.length - 5, end: body.length - 1 };
      assert.deepEqual(await bytesOf(await store.read(stored.path, tail)), body.subarray(-5));
    });

    it('fails AssetGone on 404 and 410, AssetUnavailable on 5xx and cut-short bodies; stores nothing', async () => {
      for (const status of [404, 410]) {
        const { spec } = audio(undefined, { status });
        await assert.rejects(store.store(spec), failsWith('AssetGone', new RegExp(`HTTP ${status}.*expire`)));
        await assert.rejects(store.read(pathOf(spec)), failsWith('AssetGone'));
      }
      const { spec: broken } = audio(undefined, { status: 503 });
      await assert.rejects(store.store(broken), failsWith('AssetUnavailable', /HTTP 503/));
      const { spec: cut } = audio(undefined, { cutAfter: 1000 });
      await assert.rejects(store.store(cut), failsWith('AssetUnavailable'));
      await assert.rejects(store.read(pathOf(cut)), failsWith('AssetGone'));
    });

    it('refuses an invalid file without storing it, and stores it once the source serves it right', async () => {
      const { spec, path, body } = audio(Buffer.from('<html>temporarily unavailable</html>'), {
        contentType: 'text/html',
      });
      await assert.rejects(store.store(spec), failsWith('AssetInvalid', /served as text\/html/));
      await assert.rejects(store.read(pathOf(spec)), failsWith('AssetGone'));
      media.serve(path, encodeMp3(117), { contentType: 'audio/mpeg' });
      const stored = await store.store(spec);
      assert.equal(stored.sha256, sha256(encodeMp3(117)));
      assert.notEqual(stored.sha256, sha256(body));
      assert.equal(media.count(path), 2);
    });

    it('resumes after the worker is killed mid-download: one copy, no leftovers, no third fetch', async () => {
      const big = encodeMp3(2_000);
      const { spec, path } = audio(big, { stallAfter: 64 * 1024 });
      spec.declaredDuration = mp3Duration(2_000);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'storeInChild.ts'), JSON.stringify(spec)],
        { env: { ...process.env, ...env, LOG_LEVEL: 'silent' }, stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      await media.whenStalled(path);
      // The bytes sent must reach the partial file before the kill, or nothing was half-done.
      const partials = () => filesUnder(config.dataDir).filter((file) => file.endsWith('.part'));
      for (
        let wait = 0;
        wait < 200 && !partials().some((file) => statSync(join(config.dataDir, file)).size);
        wait++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      const left = filesUnder(config.dataDir).filter((file) => file.endsWith('.part'));
      assert.equal(left.length, 1, `the killed download left its partial file: ${left.join(', ')}`);

      media.release(path);
      const stored = await store.store(spec);
      assert.equal(stored.sha256, sha256(big));
      assert.deepEqual(await bytesOf(await store.read(stored.path)), big);
      assert.deepEqual(
        filesUnder(config.dataDir).filter((file) => file.includes(spec.taskId) || file.endsWith('.part')),
        backend === 'fs'
          ? [`assets/${spec.taskId}/a-audio.mp3`, `assets/${spec.taskId}/a-audio.mp3.json`]
          : [],
        'no partial file is left, and the file is stored once',
      );
      await store.store(spec);
      assert.equal(
        media.count(path),
        2,
        'the killed attempt and the resumed one; a stored copy is not fetched again',
      );
    });
  });
}
