/**
 * Provider and asset errors as Temporal failures. Whether one retries is stated once, by the error
 * itself (`ProviderError.retryable`, `AssetError.retryable`), and carried by the failure's
 * `nonRetryable` flag: the workflows' retry policies never repeat it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ProviderError } from '../provider/errors.ts';
import { AssetError } from './assetErrors.ts';

/**
 * Attempts after which a file that keeps failing validation fails the task: a source that served
 * a broken file may serve a good one a moment later, but not forever.
 */
export const ASSET_INVALID_ATTEMPTS = 3;

/**
 * A provider or asset error as a Temporal failure: its type names it, its flag decides the retry.
 * @param attempt the activity attempt, so an asset still invalid after a few attempts stops retrying
 */
export function toFailure(error: unknown, attempt = 1): unknown {
  if (error instanceof ProviderError) {
    return ApplicationFailure.create({
      type: error.type,
      message: error.providerMessage,
      nonRetryable: !error.retryable,
      nextRetryDelay: error.retryAfterMs,
      details: [{ providerCode: error.providerCode ?? null, providerMessage: error.providerMessage }],
      cause: error,
    });
  }
  if (error instanceof AssetError) {
    const invalidToTheEnd = error.type === 'AssetInvalid' && attempt >= ASSET_INVALID_ATTEMPTS;
    return ApplicationFailure.create({
      type: error.type,
      message: invalidToTheEnd ? `${error.message} (after ${attempt} attempts)` : error.message,
      nonRetryable: !error.retryable || invalidToTheEnd,
    });
  }
  return error;
}
