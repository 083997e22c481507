import { Context } from '@temporalio/activity';
import { ApplicationFailure, type Client } from '@temporalio/client';
import { ProviderError } from '../provider/errors.ts';
import type { ProviderClient } from '../provider/client.ts';
import type { TaskKind } from '../provider/kinds.ts';
import type { CallPurpose } from '../temporal/callPriority.ts';
import type { ProviderSnapshot } from '../provider/types.ts';
import { startTracking, type TrackingSettings } from '../temporal/tasks.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import { submissionNonce } from '../workflows/callbackNonce.ts';
import { idempotencyKeyOf, type MusicTaskInput } from '../workflows/definitions.ts';
import type { StoredAsset } from '../workflows/state.ts';
import type { Catalog, CatalogEntry } from '../catalog/types.ts';
import { AssetError } from './assetErrors.ts';
import type { AssetStore } from './assetStore.ts';

/**
 * Attempts after which a file that keeps failing validation fails the task: a source that served
 * a broken file may serve a good one a moment later, but not forever.
 */
export const ASSET_INVALID_ATTEMPTS = 3;

export interface ActivityDeps {
  provider: Pick<ProviderClient, 'submit' | 'query'>;
  assets: AssetStore;
  /** Needed by `catalogTask` only. */
  catalog?: Catalog;
  /** Needed by `trackTask` only. */
  temporal?: Client;
  tracking?: TrackingSettings;
  /** The URL the provider calls back for a task of `kind`, signed for `nonce` (one submission). */
  callbackUrl: (kind: TaskKind, nonce: string) => string;
  /** Told of every 430/405: slows the whole fleet (see `BudgetGovernor`). */
  onRateLimited?: (retryAfterMs: number | undefined) => Promise<void>;
}

/**
 * A provider or asset error as a Temporal failure: its type drives the retry policy.
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
      nonRetryable: error.type === 'AssetGone' || error.type === 'AssetRefused' || invalidToTheEnd,
    });
  }
  return error;
}

/** Files one `storeAssets` activity downloads at once. */
const FILES_AT_ONCE = 4;

/** Runs `work` over `items`, at most `limit` at a time, and settles every one. */
async function settleWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const outcomes = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        outcomes[index] = { status: 'fulfilled', value: await work(items[index]!) };
      } catch (reason) {
        outcomes[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return outcomes;
}

/** Activities: the only code that does I/O. Built from their dependencies so tests hand in fakes. */
export function createActivities(deps: ActivityDeps) {
  /** A provider call: a rate limit it meets slows the fleet before the call retries. */
  const providerCall = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ProviderError && error.type === 'ProviderRateLimited') {
        try {
          await deps.onRateLimited?.(error.retryAfterMs);
        } catch (cause) {
          Context.current().log.warn('could not slow the fleet after a rate limit', { error: String(cause) });
        }
      }
      throw toFailure(error);
    }
  };
  return {
    /** Submits to the provider; the callback URL (with its signature) never enters workflow history. */
    submitToProvider: async (args: {
      kind: TaskKind;
      input: Record<string, unknown>;
      /** Absent in submissions scheduled before URLs were signed per submission. */
      callbackNonce?: string;
    }): Promise<{ taskId: string; submittedAt: string }> => {
      const nonce =
        args.callbackNonce ??
        submissionNonce(idempotencyKeyOf(Context.current().info.workflowExecution?.workflowId ?? ''));
      const taskId = await providerCall(() =>
        deps.provider.submit(args.kind, args.input, deps.callbackUrl(args.kind, nonce)),
      );
      Context.current().log.info('submitted to the provider', { taskId, kind: args.kind });
      return { taskId, submittedAt: new Date().toISOString() };
    },

    /** Starts the task's musicTask workflow, or joins it when a callback started it first. */
    trackTask: async (input: MusicTaskInput): Promise<void> => {
      if (!deps.temporal || !deps.tracking) throw new Error('trackTask needs a Temporal client');
      const { taskId, kind, ...extra } = input;
      await startTracking(deps.temporal, deps.tracking, taskId, kind, extra);
    },

    queryProvider: async (args: {
      taskId: string;
      kind: TaskKind;
      /** Why the workflow asks (for metrics): a confirmation or a timer poll. */
      purpose?: CallPurpose;
    }): Promise<ProviderSnapshot> => {
      const snapshot = await providerCall(() => deps.provider.query(args.kind, args.taskId));
      Context.current().log.debug('provider answered', {
        status: snapshot.status,
        finished: snapshot.finished,
      });
      return snapshot;
    },

    /**
     * Stores every file of a finished task, a few at a time, as one activity: the task's history
     * stays the same size whatever its file count. A retry skips the files already stored.
     */
    storeAssets: async (batch: {
      taskId: string;
      kind: TaskKind;
      specs: AssetSpec[];
    }): Promise<StoredAsset[]> => {
      const context = Context.current();
      const bytesDone = new Map<string, number>();
      let lastBeat = 0;
      const beat = () => {
        const now = Date.now();
        if (now - lastBeat < 1_000) return;
        lastBeat = now;
        let bytes = 0;
        for (const done of bytesDone.values()) bytes += done;
        context.heartbeat({ files: batch.specs.length, bytes });
      };
      const outcomes = await settleWithConcurrency(batch.specs, FILES_AT_ONCE, (spec) =>
        deps.assets.store(spec, {
          signal: context.cancellationSignal,
          onProgress: (bytes) => {
            bytesDone.set(spec.id, bytes);
            beat();
          },
        }),
      );
      const failed = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failed) throw toFailure(failed.reason, context.info.attempt);
      const stored = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<StoredAsset>).value);
      context.log.info('stored assets', {
        files: stored.length,
        bytes: stored.reduce((sum, a) => sum + a.bytes, 0),
      });
      return stored;
    },

    /** Records a finished task, its tracks and its stored files in the catalog (an idempotent upsert). */
    catalogTask: async (entry: CatalogEntry): Promise<void> => {
      if (!deps.catalog) {
        throw ApplicationFailure.nonRetryable('this worker has no catalog configured', 'CatalogUnavailable');
      }
      await deps.catalog.recordTask(entry);
    },
  };
}

export type MusicActivities = ReturnType<typeof createActivities>;
export type { NotifyActivities } from './notify.ts';
