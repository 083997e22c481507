import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';

/** What a served file is; bytes are made on request from this, so nothing is kept per task. */
export type MediaSpec =
  | { type: 'mp3'; frames: number }
  | { type: 'wav'; seconds: number }
  | { type: 'png'; rgb: readonly [number, number, number] }
  | { type: 'jpeg' }
  | { type: 'mp4' };

export const CONTENT_TYPES: Readonly<Record<MediaSpec['type'], string>> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  png: 'image/png',
  jpeg: 'image/jpeg',
  mp4: 'video/mp4',
};

// MPEG-1 Layer III, 32 kbit/s, 44.1 kHz, mono: the smallest frames a decoder accepts.
const SAMPLES_PER_FRAME = 1152;
const SAMPLE_RATE = 44_100;
const BITRATE = 32_000;
const EXACT_FRAME_BYTES = (144 * BITRATE) / SAMPLE_RATE;

/** The real duration of `frames` MP3 frames, as the provider declares it (seconds, 2 decimals). */
export function mp3Duration(frames: number): number {
  return Math.round(((frames * SAMPLES_PER_FRAME) / SAMPLE_RATE) * 100) / 100;
}

/**
 * Silent but decodable MP3: headers, all-zero side info (no Huffman data, so silence) and zero
 * ancillary bytes. Padding alternates like a real encoder's so the average bitrate is exact.
 */
export function encodeMp3(frames: number): Buffer {
  const sizes = Array.from(
    { length: frames },
    (_, i) => Math.floor((i + 1) * EXACT_FRAME_BYTES) - Math.floor(i * EXACT_FRAME_BYTES),
  );
  const file = Buffer.alloc(sizes.reduce((sum, size) => sum + size, 0));
  let offset = 0;
  for (const size of sizes) {
    const padding = size > Math.floor(EXACT_FRAME_BYTES) ? 1 : 0;
    // sync + MPEG-1 + Layer III + no CRC; bitrate index 1 (32k), 44.1 kHz; mono, original.
    file.set([0xff, 0xfb, 0x10 | (padding << 1), 0xc4], offset);
    offset += size;
  }
  return file;
}

/** 16-bit mono PCM WAV holding a quiet 440 Hz tone. */
export function encodeWav(seconds: number, sampleRate = 22_050): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const file = Buffer.alloc(44 + samples * 2);
  file.write('RIFF', 0, 'ascii');
  file.writeUInt32LE(36 + samples * 2, 4);
  file.write('WAVEfmt ', 8, 'ascii');
  file.writeUInt32LE(16, 16); // fmt chunk size
  file.writeUInt16LE(1, 20); // PCM
  file.writeUInt16LE(1, 22); // mono
  file.writeUInt32LE(sampleRate, 24);
  file.writeUInt32LE(sampleRate * 2, 28); // byte rate
  file.writeUInt16LE(2, 32); // block align
  file.writeUInt16LE(16, 34); // bits per sample
  file.write('data', 36, 'ascii');
  file.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    file.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / sampleRate) * 3000), 44 + i * 2);
  }
  return file;
}

/** A 64×64 RGB PNG: a vertical gradient from `rgb` to black. */
export function encodePng([r, g, b]: readonly [number, number, number], size = 64): Buffer {
  const row = 1 + size * 3; // filter byte + pixels
  const pixels = Buffer.alloc(row * size);
  for (let y = 0; y < size; y++) {
    const shade = 1 - y / size;
    for (let x = 0; x < size; x++) {
      pixels.set([r * shade, g * shade, b * shade].map(Math.round), y * row + 1 + x * 3);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(pixels)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'ascii');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

// JPEG and MP4 encoders are out of scope: small files made once with ffmpeg are served as they are.
const fixtures = new Map<string, Buffer>();
function fixture(name: string): Buffer {
  let bytes = fixtures.get(name);
  if (!bytes) {
    bytes = readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
    fixtures.set(name, bytes);
  }
  return bytes;
}

/** The bytes of a media file. */
export function renderMedia(spec: MediaSpec): Buffer {
  switch (spec.type) {
    case 'mp3':
      return encodeMp3(spec.frames);
    case 'wav':
      return encodeWav(spec.seconds);
    case 'png':
      return encodePng(spec.rgb);
    case 'jpeg':
      return fixture('cover.jpeg');
    case 'mp4':
      return fixture('clip.mp4');
  }
}
