import type { Config } from '../config.ts';
import { FetchPolicy } from '../fetchPolicy/index.ts';

/**
 * The fetch policy of notifications: FETCH_ALLOWED_ORIGINS may reach non-public addresses, nothing
 * else may (the provider's origin, which downloads may reach, has no business receiving them).
 */
export function notifyPolicyFor(config: Pick<Config, 'fetch' | 'notify'>): FetchPolicy {
  return new FetchPolicy({
    allowedOrigins: config.fetch.allowedOrigins,
    maxBytes: config.fetch.maxBytes,
    idleTimeoutMs: config.notify.retry.attemptTimeoutMs,
    minBytesPerSecond: config.fetch.minBytesPerSecond,
    maxRedirects: 0,
  });
}
