import { z } from 'zod';
import { FetchPolicyError, type FetchPolicy } from '../fetchPolicy/index.ts';
import { HttpError } from '../httpErrors.ts';

/** `notifyUrl` of `POST /v1/tasks` and `PUT /v1/tasks/:taskId`: an http(s) URL. */
export const notifyUrlSchema = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .max(2048, 'at most 2048 characters');

/**
 * Refuses, before anything starts, a `notifyUrl` the policy refuses without a lookup: a literal
 * non-public address whose origin is not allowed. A name is checked at delivery, after resolution.
 * @throws HttpError 400 `notify_url_refused`
 */
export function checkNotifyUrl(policy: FetchPolicy, url: string | undefined): void {
  if (url === undefined) return;
  try {
    policy.checkUrl(url);
  } catch (error) {
    if (!(error instanceof FetchPolicyError)) throw error;
    throw new HttpError(400, 'notify_url_refused', `notifyUrl refused: ${error.message}`, {
      field: 'notifyUrl',
    });
  }
}
