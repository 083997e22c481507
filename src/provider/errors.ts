/** Stable error types of provider calls; activities turn them into Temporal failure types. */
export const PROVIDER_ERROR_TYPES = [
  'ProviderRejected',
  'ProviderAuthFailed',
  'ProviderQuotaExhausted',
  'ProviderRateLimited',
  'ProviderMaintenance',
  'ProviderUnavailable',
  'ProviderTaskNotFound',
] as const;

export type ProviderErrorType = (typeof PROVIDER_ERROR_TYPES)[number];

/** Failure types that retrying cannot fix. */
export const NON_RETRYABLE_PROVIDER_ERRORS: readonly ProviderErrorType[] = [
  'ProviderRejected',
  'ProviderAuthFailed',
  'ProviderQuotaExhausted',
  'ProviderTaskNotFound',
];

/** Default back-off before retrying, when the provider gives no Retry-After. */
const RETRY_DELAY_MS: Partial<Record<ProviderErrorType, number>> = {
  ProviderRateLimited: 2_000,
  ProviderMaintenance: 30_000,
};

/** A failed provider call, with the provider's own code and message kept. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly type: ProviderErrorType,
    readonly providerCode: number | undefined,
    readonly providerMessage: string,
    options: { retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(`${type}${providerCode === undefined ? '' : ` (${providerCode})`}: ${providerMessage}`, {
      cause: options.cause,
    });
    this.retryable = !NON_RETRYABLE_PROVIDER_ERRORS.includes(type);
    this.retryAfterMs = options.retryAfterMs ?? RETRY_DELAY_MS[type];
  }
}

/** Maps a provider code (HTTP status or envelope `code`) to its error type (PROVIDER.md's table). */
export function providerErrorType(code: number, onQueryRoute: boolean): ProviderErrorType {
  if (onQueryRoute && (code === 404 || code === 400)) return 'ProviderTaskNotFound';
  switch (code) {
    case 400:
    case 413:
      return 'ProviderRejected';
    case 401:
    case 403:
      return 'ProviderAuthFailed';
    case 429:
      return 'ProviderQuotaExhausted';
    case 405:
    case 430:
      return 'ProviderRateLimited';
    case 455:
      return 'ProviderMaintenance';
    case 404:
      return 'ProviderTaskNotFound';
    default:
      return code >= 500 ? 'ProviderUnavailable' : 'ProviderRejected';
  }
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
