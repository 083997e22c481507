import { createHash, timingSafeEqual } from 'node:crypto';
import type { TaskKind } from '../provider/kinds.ts';

/** The callback URL handed to the provider: `PUBLIC_BASE_URL/webhooks/music/<kind>?token=<secret>`. */
export function callbackUrlFor(publicBaseUrl: string, kind: TaskKind, secret: string): string {
  return `${publicBaseUrl}/webhooks/music/${kind}?token=${encodeURIComponent(secret)}`;
}

/**
 * Constant-time token check. Both sides are hashed first so neither the comparison time nor an
 * early length mismatch tells anything about the secret.
 */
export function tokenMatches(presented: unknown, secrets: readonly string[]): boolean {
  if (typeof presented !== 'string' || !presented) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const given = digest(presented);
  let match = false;
  for (const secret of secrets) match = timingSafeEqual(given, digest(secret)) || match;
  return match;
}
