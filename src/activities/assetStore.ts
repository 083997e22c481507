import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import type { StoredAsset } from '../workflows/state.ts';

/** Problems a retry cannot fix (`gone`) or may fix (`invalid`: the source served something else). */
export class AssetError extends Error {
  override readonly name = 'AssetError';
  constructor(
    readonly type: 'AssetGone' | 'AssetInvalid' | 'AssetUnavailable',
    message: string,
  ) {
    super(message);
  }
}

export interface StoreProgress {
  /** Called as bytes arrive (the activity heartbeats with it). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** Where our copies of provider files live. */
export interface AssetStore {
  /** Copies the file once: a copy already stored with a matching checksum is not fetched again. */
  store(spec: AssetSpec, progress?: StoreProgress): Promise<StoredAsset>;
}

/** Magic bytes per asset type: what the provider serves must be what it says. */
function looksLike(type: AssetSpec['type'], head: Buffer): boolean {
  const ascii = (start: number, end: number) => head.subarray(start, end).toString('latin1');
  const isMp3 = ascii(0, 3) === 'ID3' || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0);
  const isWav = ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE';
  const isPng = head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const isJpeg = head[0] === 0xff && head[1] === 0xd8;
  const isMp4 = ascii(4, 8) === 'ftyp';
  switch (type) {
    case 'audio':
    case 'stem':
      return isMp3 || isWav;
    case 'wav':
      return isWav;
    case 'image':
    case 'cover':
      return isPng || isJpeg;
    case 'video':
      return isMp4;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  png: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  mp4: 'video/mp4',
};

interface Manifest {
  sourceUrl: string;
  bytes: number;
  sha256: string;
  contentType?: string;
}

async function sha256OfFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Files under `DATA_DIR/assets/<taskId>/`, each beside a small manifest with its checksum. */
export class FileAssetStore implements AssetStore {
  constructor(
    readonly root: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  pathOf(spec: Pick<AssetSpec, 'taskId' | 'name'>): string {
    return join(this.root, spec.taskId.replace(/[^A-Za-z0-9._-]/g, '_'), spec.name);
  }

  async store(spec: AssetSpec, progress: StoreProgress = {}): Promise<StoredAsset> {
    const path = this.pathOf(spec);
    const kept = await this.readKept(path, spec.sourceUrl);
    if (kept) return this.describe(spec, path, kept);

    const response = await this.fetchImpl(spec.sourceUrl, { signal: progress.signal }).catch(
      (error: unknown) => {
        throw new AssetError('AssetUnavailable', `cannot fetch ${spec.sourceUrl}: ${String(error)}`);
      },
    );
    if (response.status === 404 || response.status === 410) {
      throw new AssetError(
        'AssetGone',
        `${spec.sourceUrl} is gone (HTTP ${response.status}); provider files expire`,
      );
    }
    if (!response.ok || !response.body) {
      throw new AssetError('AssetUnavailable', `${spec.sourceUrl} answered HTTP ${response.status}`);
    }
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.${process.pid}.${Date.now()}.part`;
    const hash = createHash('sha256');
    let bytes = 0;
    let head = Buffer.alloc(0);
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        if (head.length < 16) head = Buffer.concat([head, chunk.subarray(0, 16 - head.length)]);
        progress.onProgress?.(bytes);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as never), meter, createWriteStream(partial));
      if (!looksLike(spec.type, head)) {
        throw new AssetError('AssetInvalid', `${spec.sourceUrl} is not a valid ${spec.type} file`);
      }
      const declared = Number(response.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > 0 && declared !== bytes) {
        throw new AssetError(
          'AssetInvalid',
          `${spec.sourceUrl} was cut short: ${bytes} of ${declared} bytes`,
        );
      }
      const manifest: Manifest = {
        sourceUrl: spec.sourceUrl,
        bytes,
        sha256: hash.digest('hex'),
        contentType: response.headers.get('content-type')?.split(';')[0] ?? undefined,
      };
      await rename(partial, path);
      await writeFile(`${path}.json`, JSON.stringify(manifest));
      return this.describe(spec, path, manifest);
    } finally {
      await rm(partial, { force: true });
    }
  }

  /** The copy already stored for this source, when its bytes still match the manifest. */
  private async readKept(path: string, sourceUrl: string): Promise<Manifest | undefined> {
    try {
      const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8')) as Manifest;
      if (manifest.sourceUrl !== sourceUrl) return undefined;
      const { size } = await stat(path);
      if (size !== manifest.bytes) return undefined;
      const actual = await sha256OfFile(path);
      return actual.sha256 === manifest.sha256 ? manifest : undefined;
    } catch {
      return undefined;
    }
  }

  private describe(spec: AssetSpec, path: string, manifest: Manifest): StoredAsset {
    const extension = spec.name.split('.').pop() ?? '';
    return {
      id: spec.id,
      type: spec.type,
      name: spec.name,
      ...(spec.trackId ? { trackId: spec.trackId } : {}),
      sourceUrl: spec.sourceUrl,
      path,
      bytes: manifest.bytes,
      sha256: manifest.sha256,
      contentType: manifest.contentType ?? CONTENT_TYPES[extension] ?? 'application/octet-stream',
      ...(spec.declaredDuration ? { durationSeconds: spec.declaredDuration } : {}),
    };
  }
}
