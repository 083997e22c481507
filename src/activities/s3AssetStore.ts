/**
 * Our copies in an S3-compatible bucket (`ASSET_STORE=s3`): key `<taskId>/<name>`, with the
 * checksum, the source URL and the media facts as object metadata. A HEAD before any download
 * finds a copy already stored, so retries and duplicates never fetch twice.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { FetchPolicy } from '../fetchPolicy/index.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import type { StoredAsset } from '../workflows/state.ts';
import { AssetError } from './assetErrors.ts';
import { storageKey } from './storagePath.ts';
import { partialPathFor, removeStalePartials, type StoreProgress } from './assetDownload.ts';
import {
  describeStored,
  downloadVerified,
  type AssetRecord,
  type AssetStore,
  type ByteRange,
} from './assetStore.ts';

export interface S3StoreSettings {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** An S3 client that also works with S3-compatible servers. */
export function createS3Client(settings: S3StoreSettings): S3Client {
  const config: S3ClientConfig = {
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    // Checksums only where S3 requires them: many S3-compatible servers reject the SDK's default
    // streaming (aws-chunked) checksums. Integrity is ours anyway: sha256 while downloading.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
  };
  return new S3Client(config);
}

const isNotFound = (error: unknown) => {
  const failure = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    failure.name === 'NotFound' || failure.name === 'NoSuchKey' || failure.$metadata?.httpStatusCode === 404
  );
};

/** Metadata values must be ASCII header text: numbers as strings, the URL percent-encoded. */
function toMetadata(record: AssetRecord): Record<string, string> {
  const metadata: Record<string, string> = {
    sha256: record.sha256,
    'source-url': encodeURIComponent(record.sourceUrl),
  };
  if (record.durationSeconds !== undefined) metadata['duration-seconds'] = String(record.durationSeconds);
  if (record.width !== undefined) metadata.width = String(record.width);
  if (record.height !== undefined) metadata.height = String(record.height);
  return metadata;
}

function fromMetadata(
  metadata: Record<string, string> | undefined,
  bytes: number | undefined,
  contentType: string | undefined,
): AssetRecord | undefined {
  const sha256 = metadata?.sha256;
  const sourceUrl = metadata?.['source-url'];
  if (!sha256 || !sourceUrl || bytes === undefined || !contentType) return undefined;
  const number = (key: string) => (metadata[key] !== undefined ? Number(metadata[key]) : undefined);
  const record: AssetRecord = { sourceUrl: decodeURIComponent(sourceUrl), bytes, sha256, contentType };
  const facts = {
    durationSeconds: number('duration-seconds'),
    width: number('width'),
    height: number('height'),
  };
  for (const [key, value] of Object.entries(facts)) {
    if (value !== undefined && Number.isFinite(value))
      (record as unknown as Record<string, number>)[key] = value;
  }
  return record;
}

export class S3AssetStore implements AssetStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** Where downloads are validated before upload. */
    private readonly stagingDir: string,
    private readonly policy: FetchPolicy,
  ) {}

  keyOf(spec: Pick<AssetSpec, 'taskId' | 'name'>): string {
    return storageKey(spec);
  }

  pathOf(spec: Pick<AssetSpec, 'taskId' | 'name'>): string {
    return `s3://${this.bucket}/${this.keyOf(spec)}`;
  }

  async store(spec: AssetSpec, progress: StoreProgress = {}): Promise<StoredAsset> {
    const key = this.keyOf(spec);
    const kept = await this.head(key);
    if (kept?.sourceUrl === spec.sourceUrl) return describeStored(spec, this.pathOf(spec), kept);

    await mkdir(this.stagingDir, { recursive: true });
    const staged = join(this.stagingDir, key.replace(/\//g, '__'));
    await removeStalePartials(staged);
    const partial = partialPathFor(staged);
    try {
      const record = await downloadVerified(partial, spec, this.policy, progress);
      const upload = new Upload({
        client: this.client,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: createReadStream(partial),
          ContentType: record.contentType,
          Metadata: toMetadata(record),
        },
        leavePartsOnError: false,
      });
      upload.on('httpUploadProgress', ({ loaded }) => progress.onProgress?.(record.bytes + (loaded ?? 0)));
      const abort = () => void upload.abort();
      progress.signal?.addEventListener('abort', abort, { once: true });
      try {
        await upload.done();
      } catch (error) {
        throw new AssetError('AssetUnavailable', `cannot upload ${key} to ${this.bucket}: ${String(error)}`, {
          cause: error,
        });
      } finally {
        progress.signal?.removeEventListener('abort', abort);
      }
      return describeStored(spec, this.pathOf(spec), record);
    } finally {
      await rm(partial, { force: true });
    }
  }

  async read(path: string, range?: ByteRange): Promise<Readable> {
    const prefix = `s3://${this.bucket}/`;
    if (!path.startsWith(prefix)) throw new AssetError('AssetGone', `${path} is not in this store`);
    try {
      const object = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: path.slice(prefix.length),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      if (!(object.Body instanceof Readable)) throw new Error('the object has no body stream');
      return object.Body;
    } catch (error) {
      if (isNotFound(error))
        throw new AssetError('AssetGone', `our copy ${path} is missing`, { cause: error });
      throw error;
    }
  }

  /** The stored object's record, or undefined when there is none (or it lacks our metadata). */
  private async head(key: string): Promise<AssetRecord | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return fromMetadata(head.Metadata, head.ContentLength, head.ContentType);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new AssetError('AssetUnavailable', `cannot reach bucket ${this.bucket}: ${String(error)}`, {
        cause: error,
      });
    }
  }
}
