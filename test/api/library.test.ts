import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { parseByteRange } from '../../src/api/library.ts';
import { buildSimulator } from '../../src/simulator/app.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { startS3Server, type S3TestServer } from '../activities/s3Server.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { SAMPLE_INPUTS } from '../support/inputs.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig } from '../support/temporal.ts';

/** Ready, or failed for good: a status query no busy worker answered in time is neither. */
const settled = (task: TaskView) => task.ready || (!!task.error && task.error.code !== 'status_unavailable');

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function download(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe('parseByteRange', () => {
  it('reads one range, a suffix or an open end; ignores what it cannot serve as one range', () => {
    assert.deepEqual(parseByteRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseByteRange('bytes=90-200', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=95-', 100), { start: 95, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-500', 100), { start: 0, end: 99 });
    assert.equal(parseByteRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseByteRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseByteRange('bytes=0-1,5-6', 100), undefined);
    assert.equal(parseByteRange('items=0-1', 100), undefined);
    assert.deepEqual(parseByteRange('bytes=0-4,5-9', 100), { start: 0, end: 9 }, 'adjacent ranges are one');
    assert.equal(parseByteRange('bytes=9-1', 100), 'unsatisfiable', 'no valid range in it');
    assert.equal(parseByteRange('bytes=x-1', 100), undefined, 'malformed: ignored');
    assert.equal(parseByteRange('bytes=-5', 0), 'unsatisfiable');
    assert.equal(parseByteRange(undefined, 100), undefined);
  });
});

describe('library: a song through the simulator, stored once, catalogued, served back', () => {
  let simulator: FastifyInstance;
  let simulatorUrl: string;
  let stack: Stack;
  let view: TaskView;

  before(async () => {
    simulator = await buildSimulator({ timeScale: 0.01, seed: 7 });
    simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
    stack = await startStack({
      providerUrl: simulatorUrl,
      env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '2m' },
    });
    const submitted = await stack.api('POST', '/v1/tasks', { kind: 'music', input: SAMPLE_INPUTS.music });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    view = await stack.waitForTask(submitted.body.taskId as string, settled, 60_000);
    assert.equal(view.ready, true, JSON.stringify(view.error));
  });
  after(async () => {
    await stack.close();
    await simulator.close();
  });

  const simDownloads = async () =>
    (
      (await (await fetch(`${simulatorUrl}/__sim/stats`)).json()) as {
        downloads: { byFile: Record<string, number> };
      }
    ).downloads.byFile;

  it('leaves two audio files and two images, each stored once with the source checksum and its facts', async () => {
    assert.deepEqual(view.assets.map((asset) => asset.type).sort(), ['audio', 'audio', 'image', 'image']);
    const downloads = await simDownloads();
    for (const asset of view.assets) {
      const source = Buffer.from(await (await fetch(asset.sourceUrl)).arrayBuffer());
      assert.equal(asset.sha256, sha256(source), `${asset.name}: checksum of the provider's bytes`);
      assert.equal(asset.bytes, source.length);
      assert.equal(downloads[new URL(asset.sourceUrl).pathname], 1, `${asset.name} fetched once`);
      if (asset.type === 'audio') assert.ok(asset.durationSeconds! > 1, `${asset.name} was probed`);
      else assert.ok(asset.width! > 0 && asset.height! > 0, `${asset.name} was decoded`);
    }
  });

  it('catalogues the task, its two tracks and four assets, and lists the tracks', async () => {
    assert.deepEqual(await stack.catalog.countRows(), { tasks: 1, tracks: 2, assets: 4 });
    const listed = await stack.api('GET', '/v1/tracks');
    assert.equal(listed.status, 200);
    const tracks = listed.body.tracks as {
      id: string;
      taskId: string;
      assets: { id: string; url: string }[];
    }[];
    assert.deepEqual(
      tracks.map((track) => track.taskId),
      [view.taskId, view.taskId],
    );
    assert.deepEqual(
      tracks.flatMap((track) => track.assets.map((asset) => asset.id)).sort(),
      view.assets.map((asset) => asset.id).sort(),
    );
    assert.equal(listed.body.nextCursor, undefined);
    const firstPage = await stack.api('GET', '/v1/tracks?limit=1');
    assert.equal(firstPage.body.tracks.length, 1);
    const secondPage = await stack.api('GET', `/v1/tracks?limit=1&cursor=${firstPage.body.nextCursor}`);
    assert.notEqual(secondPage.body.tracks[0].id, firstPage.body.tracks[0].id);
    // The sample's style is "pop, R&B": each part is a whole tag.
    assert.equal((await stack.api('GET', '/v1/tracks?tag=R%26B')).body.tracks.length, 2);
    assert.equal((await stack.api('GET', '/v1/tracks?tag=rock')).body.tracks.length, 0);
    assert.equal((await stack.api('GET', '/v1/tracks?q=summer%20breeze')).body.tracks.length, 2);
    assert.equal((await stack.api('GET', '/v1/tracks?q=no-such-song-anywhere')).body.tracks.length, 0);
    assert.equal((await stack.api('GET', '/v1/tracks?cursor=garbage')).body.error, 'invalid_cursor');
  });

  it('serves every copy back byte-identical, with its type, ETag and Accept-Ranges', async () => {
    for (const asset of view.assets) {
      const { response, bytes } = await download(`${stack.apiUrl}/v1/assets/${asset.id}`);
      assert.equal(response.status, 200);
      assert.deepEqual(bytes, Buffer.from(await (await fetch(asset.sourceUrl)).arrayBuffer()), asset.name);
      assert.equal(response.headers.get('content-type'), asset.contentType);
      assert.equal(response.headers.get('etag'), `"${asset.sha256}"`);
      assert.equal(response.headers.get('accept-ranges'), 'bytes');
      const again = await download(`${stack.apiUrl}/v1/assets/${asset.id}`, {
        'if-none-match': `"${asset.sha256}"`,
      });
      assert.equal(again.response.status, 304);
    }
    const missing = await stack.api('GET', '/v1/assets/no-such-asset');
    assert.deepEqual([missing.status, missing.body.error], [404, 'asset_not_found']);
  });

  it('answers ranges with 206 and Content-Range, and 416 when unsatisfiable', async () => {
    const asset = view.assets.find((candidate) => candidate.type === 'audio')!;
    const whole = (await download(`${stack.apiUrl}/v1/assets/${asset.id}`)).bytes;
    const url = `${stack.apiUrl}/v1/assets/${asset.id}`;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=-64', whole.length - 64, whole.length - 1],
      [`bytes=${whole.length - 10}-`, whole.length - 10, whole.length - 1],
      [`bytes=100-${whole.length + 50}`, 100, whole.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const { response, bytes } = await download(url, { range });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${whole.length}`, range);
      assert.deepEqual(bytes, whole.subarray(start, end + 1), range);
    }
    const beyond = await download(url, { range: `bytes=${whole.length}-` });
    assert.equal(beyond.response.status, 416);
    assert.equal(beyond.response.headers.get('content-range'), `bytes */${whole.length}`);
    const several = await download(url, { range: 'bytes=0-1,5-6' });
    assert.deepEqual([several.response.status, several.bytes.length], [200, whole.length]);
    const stale = await download(url, { range: 'bytes=0-9', 'if-range': '"an-older-version"' });
    assert.deepEqual([stale.response.status, stale.bytes.length], [200, whole.length]);
  });

  it('duplicate complete callbacks after the task is ready add no row and fetch nothing', async () => {
    const before = { rows: await stack.catalog.countRows(), downloads: await simDownloads() };
    const result = {
      tracks: view.assets
        .filter((asset) => asset.type === 'audio')
        .map((asset) => ({ id: asset.trackId!, audioUrl: asset.sourceUrl, duration: asset.durationSeconds })),
    };
    for (let copy = 0; copy < 3; copy++) {
      const answer = await stack.postCallback('music', songCallback('complete', view.taskId, result));
      assert.ok(answer.status < 300, `acknowledged: ${answer.status}`);
    }
    const task = await stack.api('GET', `/v1/tasks/${view.taskId}`);
    assert.equal(task.body.ready, true);
    assert.deepEqual(await stack.catalog.countRows(), before.rows);
    assert.deepEqual(await simDownloads(), before.downloads);
  });

  it('keeps /v1/tracks and /v1/assets behind API_TOKEN like the rest of /v1', async () => {
    const config = testConfig({ API_TOKEN: 'library-token', DATA_DIR: stack.config.dataDir });
    const app = await buildApp(config, {
      client: stack.client,
      connection: stack.client.connection as Connection,
      webhookSecrets: [stack.secret],
      catalog: stack.catalog,
    });
    try {
      const asset = view.assets[0]!;
      for (const url of ['/v1/tracks', `/v1/assets/${asset.id}`]) {
        const refused = await app.inject({ url });
        assert.deepEqual([refused.statusCode, refused.json().error], [401, 'unauthorized'], url);
        const allowed = await app.inject({ url, headers: { authorization: 'Bearer library-token' } });
        assert.equal(allowed.statusCode, 200, url);
      }
    } finally {
      await app.close();
    }
  });
});

describe('library on an S3-compatible store (s3rver)', () => {
  let s3: S3TestServer;
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    s3 = await startS3Server('library-assets');
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { ...s3.env, POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '1m' },
    });
  });
  after(async () => {
    await stack.close();
    await media.close();
    await s3.close();
  });

  it('stores a song in the bucket and serves it back, ranges included', async () => {
    const taskId = await provider.submit('music');
    const result = media.songResult(taskId);
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' })).status, 201);
    provider.set(taskId, 'music', 'SUCCESS', result);
    await stack.postCallback('music', songCallback('complete', taskId, result));
    const view = await stack.waitForTask(taskId, settled);
    assert.equal(view.ready, true, JSON.stringify(view.error));
    assert.equal(view.assets.length, 4);
    for (const asset of view.assets) {
      assert.match(asset.path, new RegExp(`^s3://library-assets/${taskId}/`));
      const source = MediaServer.body(new URL(asset.sourceUrl).pathname);
      assert.equal(asset.sha256, sha256(source));
      assert.equal(media.downloads.get(new URL(asset.sourceUrl).pathname), 1);
      const { response, bytes } = await download(`${stack.apiUrl}/v1/assets/${asset.id}`);
      assert.equal(response.status, 200);
      assert.deepEqual(bytes, source);
      const part = await download(`${stack.apiUrl}/v1/assets/${asset.id}`, { range: 'bytes=8-15' });
      assert.equal(part.response.status, 206);
      assert.deepEqual(part.bytes, source.subarray(8, 16));
    }
    assert.deepEqual(await stack.catalog.countRows(), { tasks: 1, tracks: 2, assets: 4 });
  });
});
