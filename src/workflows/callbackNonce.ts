/**
 * The nonce a callback URL carries, naming what it was issued for: a submission (its idempotency
 * key, so the URL exists before the provider's task id does) or a task tracked with PUT. Pure: the
 * workflows, the webhook and the worker share it.
 */
export type NonceSubject = { submission: string } | { task: string };

export const submissionNonce = (idempotencyKey: string) => `s.${idempotencyKey}`;
export const taskNonce = (taskId: string) => `t.${taskId}`;

/** What a nonce was issued for; undefined for anything we never issue. */
export function nonceSubject(nonce: string): NonceSubject | undefined {
  const rest = nonce.slice(2);
  if (!rest) return undefined;
  if (nonce.startsWith('s.')) return { submission: rest };
  if (nonce.startsWith('t.')) return { task: rest };
  return undefined;
}
