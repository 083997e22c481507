import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, type SimulatorUnderTest } from './simulator-harness.ts';

const CALLBACK = 'http://127.0.0.1:9/webhooks/music?token=t';
const BITRATES_KBPS = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const SAMPLE_RATES = [44_100, 48_000, 32_000];

/** Walks MPEG-1 Layer III frames from the first byte to the last; returns frames and sample rate. */
function readMp3Frames(bytes: Buffer): { frames: number; sampleRate: number } {
  let offset = 0;
  let frames = 0;
  let sampleRate = 0;
  while (offset < bytes.length) {
    assert.equal(bytes[offset], 0xff, `frame sync at ${offset}`);
    const b1 = bytes[offset + 1]!;
    const b2 = bytes[offset + 2]!;
    assert.equal(b1 & 0xe0, 0xe0, `frame sync at ${offset}`);
    assert.equal((b1 >> 3) & 3, 3, 'MPEG-1');
    assert.equal((b1 >> 1) & 3, 1, 'Layer III');
    const bitrate = BITRATES_KBPS[b2 >> 4]! * 1000;
    sampleRate = SAMPLE_RATES[(b2 >> 2) & 3]!;
    assert.ok(bitrate > 0 && sampleRate > 0);
    offset += Math.floor((144 * bitrate) / sampleRate) + ((b2 >> 1) & 1);
    frames++;
  }
  assert.equal(offset, bytes.length, 'the last frame ends the file');
  return { frames, sampleRate };
}

describe('media files are real', () => {
  let sim: SimulatorUnderTest;
  before(async () => {
    sim = await startSimulator();
  });
  after(() => sim.close());

  async function download(url: string, contentType: string): Promise<Buffer> {
    const response = await fetch(url);
    assert.equal(response.status, 200, url);
    assert.equal(response.headers.get('content-type'), contentType);
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(Number(response.headers.get('content-length')), bytes.length);
    assert.ok(bytes.length > 0);
    return bytes;
  }

  test('song tracks are MP3 whose frame count gives exactly the declared duration', async () => {
    const taskId = await sim.create('music', CALLBACK);
    await sim.advance(taskId);
    const tracks = (await sim.query('music', taskId)).body.data.response.sunoData;
    for (const track of tracks) {
      const audio = await download(track.audioUrl, 'audio/mpeg');
      const { frames, sampleRate } = readMp3Frames(audio);
      const seconds = Math.round(((frames * 1152) / sampleRate) * 100) / 100;
      assert.equal(seconds, track.duration);
      assert.ok(track.duration >= 1 && track.duration <= 6, `a few seconds, got ${track.duration}`);
      assert.deepEqual(await download(track.streamAudioUrl, 'audio/mpeg'), audio);
    }
    const jpeg = await download(tracks[0].imageUrl, 'image/jpeg');
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'JPEG SOI');
    assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9], 'JPEG EOI');
    const png = await download(tracks[1].imageUrl, 'image/png');
    assert.deepEqual(
      [...png.subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      'PNG signature',
    );
    assert.equal(png.toString('ascii', 12, 16), 'IHDR');
  });

  test('WAV is RIFF/WAVE PCM', async () => {
    const taskId = await sim.create('wav', CALLBACK);
    await sim.advance(taskId);
    const url = (await sim.query('wav', taskId)).body.data.response.audioWavUrl;
    const wav = await download(url, 'audio/wav');
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.readUInt32LE(4), wav.length - 8);
    assert.equal(wav.toString('ascii', 8, 16), 'WAVEfmt ');
    assert.equal(wav.readUInt16LE(20), 1, 'PCM');
    assert.equal(wav.toString('ascii', 36, 40), 'data');
    assert.equal(wav.readUInt32LE(40), wav.length - 44);
  });

  test('MP4 starts with an ftyp box; cover art is PNG and JPEG', async () => {
    const mp4Id = await sim.create('mp4', CALLBACK);
    await sim.advance(mp4Id);
    const video = await download((await sim.query('mp4', mp4Id)).body.data.response.videoUrl, 'video/mp4');
    assert.equal(video.toString('ascii', 4, 8), 'ftyp');
    assert.ok(video.includes('moov'), 'has a movie box');

    const coverId = await sim.create('cover-art', CALLBACK, { taskId: 'media-test' });
    await sim.advance(coverId);
    const [pngUrl, jpegUrl] = (await sim.query('cover-art', coverId)).body.data.response.images;
    assert.equal((await download(pngUrl, 'image/png'))[1], 0x50);
    assert.equal((await download(jpegUrl, 'image/jpeg'))[0], 0xff);
  });

  test('stems: MP3 stems walk as frames, the instrumental is WAV', async () => {
    const taskId = await sim.create('split-stem', CALLBACK);
    await sim.advance(taskId);
    const stems = (await sim.query('split-stem', taskId)).body.data.response;
    readMp3Frames(await download(stems.vocalUrl, 'audio/mpeg'));
    readMp3Frames(await download(stems.drumsUrl, 'audio/mpeg'));
    assert.equal((await download(stems.instrumentalUrl, 'audio/wav')).toString('ascii', 0, 4), 'RIFF');
  });

  test('HEAD gives type and length without a body; unknown files are 404', async () => {
    const taskId = await sim.create('wav', CALLBACK);
    const url = `${sim.base}/media/${taskId}/audio.wav`;
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'audio/wav');
    assert.equal(Number(head.headers.get('content-length')), (await download(url, 'audio/wav')).length);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal((await fetch(`${sim.base}/media/${taskId}/nope.mp3`)).status, 404);
    assert.equal((await fetch(`${sim.base}/media/000000000000/audio.wav`)).status, 404);
  });
});
