import { join } from 'node:path';
import type { Config } from '../config.ts';
import { fetchPolicyFor } from '../fetchPolicy/index.ts';
import { FileAssetStore, type AssetStore } from './assetStore.ts';

/**
 * The asset store the configuration names (`ASSET_STORE`): the worker writes it, the API reads it.
 * The AWS SDK is loaded only when the S3 store is chosen.
 */
export async function openAssetStore(
  config: Pick<Config, 'assets' | 'dataDir' | 'provider' | 'fetch'>,
): Promise<AssetStore> {
  const { s3 } = config.assets;
  const policy = fetchPolicyFor(config);
  if (config.assets.store === 's3' && s3) {
    const { createS3Client, S3AssetStore } = await import('./s3AssetStore.ts');
    return new S3AssetStore(createS3Client(s3), s3.bucket, join(config.dataDir, 'staging'), policy);
  }
  return new FileAssetStore(config.assets.dir, policy);
}
