/** Storing a finished task's files and recording it in the catalog. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TaskKind } from '../provider/kinds.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import type { StoredAsset } from '../workflows/state.ts';
import type { Catalog, CatalogEntry } from '../catalog/types.ts';
import type { AssetStore } from './assetStore.ts';
import { toFailure } from './failures.ts';

export interface StorageActivityDeps {
  assets: AssetStore;
  /** Needed by `catalogTask`, and by `storeAssets` when it is handed the task's catalog entry. */
  catalog?: Catalog;
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

/**
 * Records a finished task, its tracks and its stored files in the catalog (an idempotent upsert).
 * A failure is a `CatalogFailed` with the catalog's own message, retried unless the catalog said it
 * will never succeed.
 */
async function recordInCatalog(catalog: Catalog | undefined, entry: CatalogEntry): Promise<void> {
  if (!catalog) {
    throw ApplicationFailure.nonRetryable('this worker has no catalog configured', 'CatalogFailed');
  }
  try {
    await catalog.recordTask(entry);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const nonRetryable = error instanceof ApplicationFailure && error.nonRetryable === true;
    const cause = error instanceof Error ? error : undefined;
    throw ApplicationFailure.create({ type: 'CatalogFailed', message, nonRetryable, cause });
  }
}

export function storageActivities(deps: StorageActivityDeps) {
  return {
    /**
     * Stores every file of a finished task, a few at a time, as one activity: the task's history
     * stays the same size whatever its file count. A retry skips the files already stored. Handed
     * the task's catalog entry, it records the task with its stored files once they are all in: the
     * workflow completes in the next workflow task, with no local activity before it.
     */
    storeAssets: async (batch: {
      taskId: string;
      kind: TaskKind;
      specs: AssetSpec[];
      catalog?: Omit<CatalogEntry, 'assets'>;
    }): Promise<StoredAsset[]> => {
      const context = Context.current();
      const bytesDone = new Map<string, number>();
      // The first heartbeat after a second of work: a quick store never writes one (each is a
      // write to the task's history on the Temporal server).
      let lastBeat = Date.now();
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
      if (batch.catalog) await recordInCatalog(deps.catalog, { ...batch.catalog, assets: stored });
      return stored;
    },

    /** Records a finished task without files (lyrics) in the catalog (an idempotent upsert). */
    catalogTask: (entry: CatalogEntry): Promise<void> => recordInCatalog(deps.catalog, entry),
  };
}
