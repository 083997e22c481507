/**
 * Why a download was stopped. `refused`: the policy forbids it (scheme, address, redirects, size):
 * retrying cannot help. `failed`: the source was unreachable, idle or too slow: a retry may succeed.
 * Messages name the URL and the rule, never what the source answered.
 */
export class FetchPolicyError extends Error {
  override readonly name = 'FetchPolicyError';
  constructor(
    readonly kind: 'refused' | 'failed',
    /** Stable code: `scheme`, `address`, `redirects`, `too_large`, `idle`, `too_slow`, `unreachable`. */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A URL as errors and logs show it: no credentials, no query string (presigned URLs carry keys). */
export function describeUrl(url: string | URL): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '<unparsable URL>';
  }
}
