/**
 * Why a provider file could not be stored. The type is the Temporal failure type: `AssetGone` never
 * retries (the file expired), `AssetInvalid` retries a few times (the source served something
 * else), `AssetUnavailable` retries with backoff (network, 5xx).
 */
export class AssetError extends Error {
  override readonly name = 'AssetError';
  constructor(
    readonly type: 'AssetGone' | 'AssetInvalid' | 'AssetUnavailable',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
