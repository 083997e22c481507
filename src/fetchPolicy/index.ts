/**
 * The fetch policy every download goes through (and, later, every outbound notification): public
 * addresses only, bar the provider's origin and FETCH_ALLOWED_ORIGINS; redirects checked; bytes capped.
 */
import type { Config } from '../config.ts';
import { FetchPolicy } from './policy.ts';

export { FetchPolicy, type AssetFamily, type FetchPolicySettings, type PolicyResponse } from './policy.ts';
export { FetchPolicyError, describeUrl } from './errors.ts';
export { isPublicAddress } from './addresses.ts';

/** The policy the configuration describes: the provider's own origin is always allowed. */
export function fetchPolicyFor(config: Pick<Config, 'provider' | 'fetch'>): FetchPolicy {
  return new FetchPolicy({
    allowedOrigins: [new URL(config.provider.baseUrl).origin, ...config.fetch.allowedOrigins],
    maxBytes: config.fetch.maxBytes,
    idleTimeoutMs: config.fetch.idleTimeoutMs,
    minBytesPerSecond: config.fetch.minBytesPerSecond,
  });
}
