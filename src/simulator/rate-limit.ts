/** The provider's per-key request limit (PROVIDER.md: about 20 requests per 10 s). */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export const PROVIDER_RATE_LIMIT: RateLimit = { max: 20, windowMs: 10_000 };

/** A sliding-window limiter: only requests let through count, so Retry-After is honest. */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a request of `key`; 0 when it may go, else the seconds to wait (at least 1). */
  take(key: string): number {
    const now = this.now();
    const recent = (this.hits.get(key) ?? []).filter((at) => at > now - this.limit.windowMs);
    this.hits.set(key, recent);
    const oldest = recent[0];
    if (recent.length >= this.limit.max && oldest !== undefined) {
      return Math.max(1, Math.ceil((oldest + this.limit.windowMs - now) / 1000));
    }
    recent.push(now);
    return 0;
  }

  reset(): void {
    this.hits.clear();
  }
}
