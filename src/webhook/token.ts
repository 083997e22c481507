import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { TaskKind } from '../provider/kinds.ts';

/** Longest nonce accepted in a callback URL (an idempotency key or a task id, with its prefix). */
const MAX_NONCE = 256;

/** The proof a callback URL carries for `nonce` on the route of `kind`: HMAC-SHA256 of both, base64url. */
export function signNonce(secret: string, kind: TaskKind, nonce: string): string {
  return createHmac('sha256', secret).update(`${kind}\n${nonce}`).digest('base64url');
}

/**
 * The callback URL handed to the provider: `PUBLIC_BASE_URL/webhooks/music/<kind>?nonce=…&sig=…`.
 * It proves one submission (or one tracked task) only; the secret itself never leaves the service.
 */
export function callbackUrlFor(publicBaseUrl: string, kind: TaskKind, secret: string, nonce: string): string {
  const query = new URLSearchParams({ nonce, sig: signNonce(secret, kind, nonce) });
  return `${publicBaseUrl}/webhooks/music/${kind}?${query.toString()}`;
}

/** The operator's form, `?token=<secret>`: it opens every task, so it is never handed to the provider. */
export function secretCallbackUrlFor(publicBaseUrl: string, kind: TaskKind, secret: string): string {
  return `${publicBaseUrl}/webhooks/music/${kind}?token=${encodeURIComponent(secret)}`;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Constant-time token check. Both sides are hashed first so neither the comparison time nor an
 * early length mismatch tells anything about the secret.
 */
export function tokenMatches(presented: unknown, secrets: readonly string[]): boolean {
  if (typeof presented !== 'string' || !presented) return false;
  const given = digest(presented);
  let match = false;
  for (const secret of secrets) match = timingSafeEqual(given, digest(secret)) || match;
  return match;
}

/** How a callback proved itself: the operator's secret (any task), or a signed nonce (its own task only). */
export type CallbackProof = { by: 'secret' } | { by: 'nonce'; nonce: string };

/**
 * Checks a callback's query against the current secret and those being rotated out, statelessly.
 * A repeated parameter (`?sig=a&sig=b`) proves nothing.
 */
export function verifyCallbackQuery(
  query: Record<string, unknown>,
  kind: TaskKind,
  secrets: readonly string[],
): CallbackProof | undefined {
  if (query.token !== undefined) return tokenMatches(query.token, secrets) ? { by: 'secret' } : undefined;
  const { nonce, sig } = query;
  if (typeof nonce !== 'string' || typeof sig !== 'string' || !nonce || nonce.length > MAX_NONCE)
    return undefined;
  const given = digest(sig);
  let match = false;
  for (const secret of secrets)
    match = timingSafeEqual(given, digest(signNonce(secret, kind, nonce))) || match;
  return match ? { by: 'nonce', nonce } : undefined;
}
