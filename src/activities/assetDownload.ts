/**
 * One provider file streamed to a local file, hashed while it streams. Shared by every store: the
 * file is validated before it is committed anywhere.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeUrl, FetchPolicyError, type AssetFamily, type FetchPolicy } from '../fetchPolicy/index.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import { AssetError } from './assetErrors.ts';

export interface StoreProgress {
  /** Called as bytes arrive (the activity heartbeats with it). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface Downloaded {
  bytes: number;
  sha256: string;
  /** The content type the source answered with, parameters stripped. */
  servedType?: string;
}

/** Which byte cap a file type falls under. */
const FAMILY: Record<AssetSpec['type'], AssetFamily> = {
  audio: 'audio',
  stem: 'audio',
  wav: 'audio',
  image: 'image',
  cover: 'image',
  video: 'video',
};

/** A policy refusal never retries; a failure (unreachable, idle, too slow) does. */
function assetErrorOf(error: unknown, sourceUrl: string): AssetError {
  if (error instanceof FetchPolicyError) {
    return new AssetError(error.kind === 'refused' ? 'AssetRefused' : 'AssetUnavailable', error.message, {
      cause: error,
    });
  }
  return new AssetError('AssetUnavailable', `download of ${describeUrl(sourceUrl)} broke off`, {
    cause: error,
  });
}

/**
 * Streams the spec's source into `file` through the fetch policy.
 * @throws AssetError `AssetGone` on 404/410 (provider files expire), `AssetRefused` when the policy
 * forbids the URL or the size, `AssetUnavailable` otherwise. Messages never carry what the source answered.
 */
export async function downloadTo(
  file: string,
  spec: Pick<AssetSpec, 'sourceUrl' | 'type'>,
  policy: FetchPolicy,
  progress: StoreProgress = {},
): Promise<Downloaded> {
  const { sourceUrl } = spec;
  const shown = describeUrl(sourceUrl);
  const response = await policy.get(sourceUrl, FAMILY[spec.type], progress.signal).catch((error: unknown) => {
    throw assetErrorOf(error, sourceUrl);
  });
  if (response.status === 404 || response.status === 410) {
    response.body.destroy();
    throw new AssetError('AssetGone', `${shown} is gone (HTTP ${response.status}); provider files expire`);
  }
  if (response.status !== 200) {
    response.body.destroy();
    throw new AssetError('AssetUnavailable', `${shown} answered HTTP ${response.status}`);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      progress.onProgress?.(bytes);
      done(null, chunk);
    },
  });
  try {
    await pipeline(response.body, meter, createWriteStream(file));
  } catch (error) {
    throw assetErrorOf(error, sourceUrl);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > 0 && declared !== bytes) {
    throw new AssetError('AssetUnavailable', `${shown} was cut short: ${bytes} of ${declared} bytes`);
  }
  const servedType = response.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return { bytes, sha256: hash.digest('hex'), ...(servedType ? { servedType } : {}) };
}

/** A fresh partial name beside `target`: one per attempt, so two attempts never share a file. */
export function partialPathFor(target: string): string {
  return `${target}.${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.part`;
}

/**
 * Removes partial files an earlier attempt left behind (a worker killed mid-download never reaches
 * its cleanup), so a crash never leaves a second file.
 */
export async function removeStalePartials(target: string): Promise<void> {
  const prefix = `${basename(target)}.`;
  const entries = await readdir(dirname(target)).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith(prefix) && entry.endsWith('.part'))
      .map((entry) => rm(join(dirname(target), entry), { force: true })),
  );
}
