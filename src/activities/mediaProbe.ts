/**
 * Checks that a downloaded file is what the provider says it is: the served content type and the
 * magic bytes fit the asset type, audio and video decode to the declared duration, and images
 * decode to a size. Anything else is `AssetInvalid`.
 */
import { open } from 'node:fs/promises';
import { imageSizeFromFile } from 'image-size/fromFile';
import { parseFile } from 'music-metadata';
import { describeUrl } from '../fetchPolicy/errors.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import { AssetError } from './assetErrors.ts';

export type MediaFormat = 'mp3' | 'wav' | 'png' | 'jpeg' | 'webp' | 'mp4';

/** What we serve each format as: the bytes decide, not the provider's header. */
export const FORMAT_CONTENT_TYPES: Readonly<Record<MediaFormat, string>> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  mp4: 'video/mp4',
};

const ACCEPTED_FORMATS: Readonly<Record<AssetSpec['type'], readonly MediaFormat[]>> = {
  audio: ['mp3', 'wav'],
  stem: ['mp3', 'wav'],
  wav: ['wav'],
  image: ['png', 'jpeg', 'webp'],
  cover: ['png', 'jpeg', 'webp'],
  video: ['mp4'],
};

/** Content types a server may send for any file; they say nothing, so they pass. */
const GENERIC_TYPES = new Set(['application/octet-stream', 'binary/octet-stream']);
const SERVED_FAMILIES: Readonly<Record<AssetSpec['type'], readonly string[]>> = {
  audio: ['audio/'],
  stem: ['audio/'],
  wav: ['audio/'],
  image: ['image/'],
  cover: ['image/'],
  video: ['video/', 'application/mp4'],
};

/** A provider's declared duration may be rounded or estimated: 0.5 s or 5 %, whichever is larger. */
export function durationMatches(declared: number, probed: number): boolean {
  return Math.abs(declared - probed) <= Math.max(0.5, declared * 0.05);
}

/** The format the leading bytes announce, if it is one we store. */
export function sniffFormat(head: Buffer): MediaFormat | undefined {
  const ascii = (start: number, end: number) => head.subarray(start, end).toString('latin1');
  if (ascii(0, 3) === 'ID3' || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0)) return 'mp3';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(4, 8) === 'ftyp') return 'mp4';
  return undefined;
}

/** What probing found; stored with the asset and shown in the task view. */
export interface MediaFacts {
  contentType: string;
  durationSeconds?: number;
  width?: number;
  height?: number;
}

async function readHead(file: string, length = 16): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Validates the file at `file` against its spec and returns its media facts.
 * @param servedType the content type the source answered with (parameters stripped), if any
 * @throws AssetError `AssetInvalid` naming what did not match
 */
export async function probeMedia(
  file: string,
  spec: Pick<AssetSpec, 'type' | 'sourceUrl' | 'declaredDuration'>,
  servedType?: string,
): Promise<MediaFacts> {
  const invalid = (why: string, cause?: unknown) =>
    new AssetError(
      'AssetInvalid',
      `${describeUrl(spec.sourceUrl)} is not a valid ${spec.type} file: ${why}`,
      { cause },
    );
  if (servedType && !GENERIC_TYPES.has(servedType)) {
    if (!SERVED_FAMILIES[spec.type].some((family) => servedType.startsWith(family))) {
      throw invalid(`served as ${servedType}`);
    }
  }
  const format = sniffFormat(await readHead(file));
  if (!format || !ACCEPTED_FORMATS[spec.type].includes(format)) {
    throw invalid(`its bytes are ${format ?? 'no known media format'}`);
  }
  const contentType = FORMAT_CONTENT_TYPES[format];

  if (spec.type === 'image' || spec.type === 'cover') {
    const size = await imageSizeFromFile(file).catch((error: unknown) => {
      throw invalid('the image does not decode', error);
    });
    if (!size.width || !size.height) throw invalid('the image has no size');
    return { contentType, width: size.width, height: size.height };
  }

  // `duration: true` counts every MP3 frame instead of estimating from the first ones.
  const metadata = await parseFile(file, { duration: true, skipCovers: true }).catch((error: unknown) => {
    throw invalid('the media does not decode', error);
  });
  const duration = metadata.format.duration;
  if (!duration || !Number.isFinite(duration) || duration <= 0) throw invalid('no playable media found');
  if (spec.declaredDuration && !durationMatches(spec.declaredDuration, duration)) {
    throw invalid(`it plays ${duration.toFixed(2)} s, the provider declared ${spec.declaredDuration} s`);
  }
  return { contentType, durationSeconds: Math.round(duration * 1000) / 1000 };
}
