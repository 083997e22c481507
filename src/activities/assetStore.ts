import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { FetchPolicy } from '../fetchPolicy/index.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import type { StoredAsset } from '../workflows/state.ts';
import { AssetError } from './assetErrors.ts';
import { storageKey } from './storagePath.ts';
import { downloadTo, partialPathFor, removeStalePartials, type StoreProgress } from './assetDownload.ts';
import { probeMedia, type MediaFacts } from './mediaProbe.ts';

export { AssetError } from './assetErrors.ts';
export type { StoreProgress } from './assetDownload.ts';

/** Inclusive byte offsets, as in an HTTP `Range` header. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Where our copies of provider files live. */
export interface AssetStore {
  /**
   * Copies the file once: downloaded, validated, then committed. A copy already stored from the
   * same source with a matching checksum is not fetched again.
   */
  store(spec: AssetSpec, progress?: StoreProgress): Promise<StoredAsset>;
  /**
   * Streams a stored copy (its `path`), or a byte range of it.
   * @throws AssetError `AssetGone` when the copy is not in this store
   */
  read(path: string, range?: ByteRange): Promise<Readable>;
}

/** What a stored copy is known to be: kept beside it (files) or as its metadata (objects). */
export interface AssetRecord extends MediaFacts {
  sourceUrl: string;
  bytes: number;
  sha256: string;
}

/** The task view's description of a stored copy. */
/** Downloads the source into `partial` and checks it is the media it claims to be. */
export async function downloadVerified(
  partial: string,
  spec: AssetSpec,
  policy: FetchPolicy,
  progress: StoreProgress,
): Promise<AssetRecord> {
  const downloaded = await downloadTo(partial, spec, policy, progress);
  const facts = await probeMedia(partial, spec, downloaded.servedType);
  return { sourceUrl: spec.sourceUrl, bytes: downloaded.bytes, sha256: downloaded.sha256, ...facts };
}

export function describeStored(spec: AssetSpec, path: string, record: AssetRecord): StoredAsset {
  return {
    id: spec.id,
    type: spec.type,
    name: spec.name,
    ...(spec.trackId ? { trackId: spec.trackId } : {}),
    sourceUrl: spec.sourceUrl,
    path,
    bytes: record.bytes,
    sha256: record.sha256,
    contentType: record.contentType,
    ...(record.durationSeconds !== undefined ? { durationSeconds: record.durationSeconds } : {}),
    ...(record.width !== undefined ? { width: record.width } : {}),
    ...(record.height !== undefined ? { height: record.height } : {}),
  };
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Files under `DATA_DIR/assets/<taskId>/`, each beside a small manifest (`<name>.json`) with its
 * source, checksum and media facts. Written to a per-attempt partial name and renamed.
 */
export class FileAssetStore implements AssetStore {
  readonly root: string;

  constructor(
    root: string,
    private readonly policy: FetchPolicy,
  ) {
    this.root = resolve(root);
  }

  pathOf(spec: Pick<AssetSpec, 'taskId' | 'name'>): string {
    return join(this.root, ...storageKey(spec).split('/'));
  }

  async store(spec: AssetSpec, progress: StoreProgress = {}): Promise<StoredAsset> {
    const path = this.pathOf(spec);
    const kept = await this.readKept(path, spec);
    if (kept) return describeStored(spec, path, kept);

    await mkdir(dirname(path), { recursive: true });
    await removeStalePartials(path);
    const partial = partialPathFor(path);
    try {
      const record = await downloadVerified(partial, spec, this.policy, progress);
      // The manifest goes last: a copy without one is fetched again, never trusted.
      await rename(partial, path);
      const manifestPartial = partialPathFor(`${path}.json`);
      await writeFile(manifestPartial, JSON.stringify(record));
      await rename(manifestPartial, `${path}.json`);
      return describeStored(spec, path, record);
    } finally {
      await rm(partial, { force: true });
    }
  }

  async read(path: string, range?: ByteRange): Promise<Readable> {
    const absolute = resolve(path);
    if (!absolute.startsWith(this.root + sep)) {
      throw new AssetError('AssetGone', `${path} is not in this store`);
    }
    const handle = await open(absolute, 'r').catch((error: unknown) => {
      throw new AssetError('AssetGone', `our copy ${path} is missing`, { cause: error });
    });
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  /** The copy already stored for this source, when its bytes still match the manifest. */
  private async readKept(path: string, spec: AssetSpec): Promise<AssetRecord | undefined> {
    let record: AssetRecord;
    try {
      record = JSON.parse(await readFile(`${path}.json`, 'utf8')) as AssetRecord;
      if (record.sourceUrl !== spec.sourceUrl) return undefined;
      if ((await stat(path)).size !== record.bytes) return undefined;
      if ((await sha256OfFile(path)) !== record.sha256) return undefined;
    } catch {
      return undefined;
    }
    if (record.durationSeconds !== undefined || record.width !== undefined) return record;
    // A manifest from before media facts were kept: probe the local copy rather than refetch.
    try {
      return { ...record, ...(await probeMedia(path, spec)) };
    } catch {
      return undefined;
    }
  }
}
