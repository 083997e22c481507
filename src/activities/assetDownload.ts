/**
 * One provider file streamed to a local file, hashed while it streams. Shared by every store: the
 * file is validated before it is committed anywhere.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/**
 * Streams `sourceUrl` into `file`.
 * @throws AssetError `AssetGone` on 404/410 (provider files expire), `AssetUnavailable` otherwise
 */
export async function downloadTo(
  file: string,
  sourceUrl: string,
  fetchImpl: typeof fetch,
  progress: StoreProgress = {},
): Promise<Downloaded> {
  const response = await fetchImpl(sourceUrl, { signal: progress.signal }).catch((error: unknown) => {
    throw new AssetError('AssetUnavailable', `cannot fetch ${sourceUrl}: ${String(error)}`, { cause: error });
  });
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel();
    throw new AssetError(
      'AssetGone',
      `${sourceUrl} is gone (HTTP ${response.status}); provider files expire`,
    );
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new AssetError('AssetUnavailable', `${sourceUrl} answered HTTP ${response.status}`);
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
    await pipeline(Readable.fromWeb(response.body as never), meter, createWriteStream(file));
  } catch (error) {
    throw new AssetError('AssetUnavailable', `download of ${sourceUrl} broke off: ${String(error)}`, {
      cause: error,
    });
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > 0 && declared !== bytes) {
    throw new AssetError('AssetUnavailable', `${sourceUrl} was cut short: ${bytes} of ${declared} bytes`);
  }
  const servedType = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
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
