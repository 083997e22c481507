import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AssetError } from '../../src/activities/assetErrors.ts';
import { durationMatches, probeMedia } from '../../src/activities/mediaProbe.ts';
import { encodeMp3, encodePng, encodeWav, mp3Duration, renderMedia } from '../../src/simulator/media.ts';
import type { AssetSpec } from '../../src/workflows/assetPlan.ts';
import { scratchDir } from '../support/temporal.ts';

const dir = scratchDir('probe');
let files = 0;
function fileOf(bytes: Buffer): string {
  const path = join(dir, `file-${++files}`);
  writeFileSync(path, bytes);
  return path;
}
const spec = (type: AssetSpec['type'], declaredDuration?: number) => ({
  type,
  sourceUrl: `http://provider.test/${type}`,
  ...(declaredDuration ? { declaredDuration } : {}),
});
const invalid = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof AssetError, `an AssetError, got ${String(error)}`);
  assert.equal(error.type, 'AssetInvalid');
  assert.match(error.message, pattern);
  return true;
};

describe('media validation', () => {
  it('probes each format it stores and reports the media facts', async () => {
    const mp3 = await probeMedia(fileOf(encodeMp3(117)), spec('audio', mp3Duration(117)), 'audio/mpeg');
    assert.equal(mp3.contentType, 'audio/mpeg');
    assert.ok(Math.abs(mp3.durationSeconds! - 3.06) < 0.1, `mp3 plays ${mp3.durationSeconds} s`);
    const wav = await probeMedia(fileOf(encodeWav(1)), spec('wav'), 'audio/wav');
    assert.deepEqual(wav, { contentType: 'audio/wav', durationSeconds: 1 });
    const png = await probeMedia(fileOf(encodePng([10, 20, 30])), spec('image'), 'image/png');
    assert.deepEqual(png, { contentType: 'image/png', width: 64, height: 64 });
    const jpeg = await probeMedia(fileOf(renderMedia({ type: 'jpeg' })), spec('cover'), 'image/jpeg');
    assert.equal(jpeg.contentType, 'image/jpeg');
    assert.ok(jpeg.width! > 0 && jpeg.height! > 0);
    const video = await probeMedia(fileOf(renderMedia({ type: 'mp4' })), spec('video'), 'video/mp4');
    assert.equal(video.contentType, 'video/mp4');
    assert.ok(video.durationSeconds! > 0.5, `video plays ${video.durationSeconds} s`);
  });

  it('takes the bytes, not a generic or missing content type, as the truth', async () => {
    const facts = await probeMedia(fileOf(encodeMp3(100)), spec('stem'), 'application/octet-stream');
    assert.equal(facts.contentType, 'audio/mpeg');
    assert.equal((await probeMedia(fileOf(encodePng([1, 2, 3])), spec('cover'))).contentType, 'image/png');
  });

  it('tolerates 0.5 s or 5 % between declared and probed durations, whichever is larger', async () => {
    assert.ok(durationMatches(2, 2.49));
    assert.ok(!durationMatches(2, 2.6));
    assert.ok(durationMatches(100, 104.9));
    assert.ok(!durationMatches(100, 105.5));
    await probeMedia(fileOf(encodeMp3(117)), spec('audio', 3.5), 'audio/mpeg');
  });

  it('refuses audio whose duration is not the declared one', async () => {
    await assert.rejects(
      probeMedia(fileOf(encodeMp3(117)), spec('audio', 30), 'audio/mpeg'),
      invalid(/plays 3\.\d+ s, the provider declared 30 s/),
    );
  });

  it('refuses a file served with a content type of another family', async () => {
    await assert.rejects(
      probeMedia(fileOf(encodeMp3(50)), spec('audio'), 'text/html'),
      invalid(/served as text\/html/),
    );
    await assert.rejects(
      probeMedia(fileOf(encodePng([1, 2, 3])), spec('image'), 'audio/mpeg'),
      invalid(/served as audio\/mpeg/),
    );
  });

  it('refuses bytes that are not a media format, or another kind of media', async () => {
    const html = Buffer.from('<!doctype html><h1>502 Bad Gateway</h1>');
    await assert.rejects(probeMedia(fileOf(html), spec('audio')), invalid(/bytes are no known media format/));
    await assert.rejects(probeMedia(fileOf(encodePng([1, 2, 3])), spec('audio')), invalid(/bytes are png/));
    await assert.rejects(
      probeMedia(fileOf(encodeMp3(50)), spec('wav'), 'audio/mpeg'),
      invalid(/bytes are mp3/),
    );
    await assert.rejects(
      probeMedia(fileOf(renderMedia({ type: 'jpeg' })), spec('video')),
      invalid(/bytes are jpeg/),
    );
  });

  it('refuses files with the right magic bytes that do not decode', async () => {
    const id3Only = Buffer.concat([
      Buffer.from('ID3\x03\x00\x00\x00\x00\x00\x00', 'latin1'),
      Buffer.alloc(4096, 7),
    ]);
    await assert.rejects(
      probeMedia(fileOf(id3Only), spec('audio', 3)),
      invalid(/no playable media|does not decode/),
    );
    const pngHead = Buffer.concat([encodePng([1, 2, 3]).subarray(0, 8), Buffer.alloc(64, 1)]);
    await assert.rejects(
      probeMedia(fileOf(pngHead), spec('image')),
      invalid(/image does not decode|no size/),
    );
    const truncatedWav = encodeWav(1).subarray(0, 30);
    await assert.rejects(probeMedia(fileOf(truncatedWav), spec('wav')), invalid(/./));
  });
});
