/**
 * Why a provider file could not be stored. The type is the Temporal failure type: `AssetGone` never
 * retries (the file expired), `AssetInvalid` retries a few times (the source served something
 * else), `AssetUnavailable` retries with backoff (network, 5xx, a stalled source), `AssetRefused`
 * never retries (the fetch policy forbids the URL, or the file is over its size cap).
 */
export class AssetError extends Error {
  override readonly name = 'AssetError';
  constructor(
    readonly type: 'AssetGone' | 'AssetInvalid' | 'AssetUnavailable' | 'AssetRefused',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Whether another attempt may succeed: not for an expired file, nor for one the policy or a cap refuses. */
  get retryable(): boolean {
    return this.type !== 'AssetGone' && this.type !== 'AssetRefused';
  }
}
