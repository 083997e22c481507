import { Context } from '@temporalio/activity';
import { ApplicationFailure, type Client } from '@temporalio/client';
import { ProviderError } from '../provider/errors.ts';
import type { ProviderClient } from '../provider/client.ts';
import type { TaskKind } from '../provider/kinds.ts';
import type { ProviderSnapshot } from '../provider/types.ts';
import { startTracking, type TrackingSettings } from '../temporal/tasks.ts';
import type { AssetSpec } from '../workflows/assetPlan.ts';
import type { MusicTaskInput } from '../workflows/definitions.ts';
import type { StoredAsset } from '../workflows/state.ts';
import { AssetError, type AssetStore } from './assetStore.ts';

export interface ActivityDeps {
  provider: Pick<ProviderClient, 'submit' | 'query'>;
  assets: AssetStore;
  /** Needed by `trackTask` only. */
  temporal?: Client;
  tracking?: TrackingSettings;
  /** The URL the provider calls back for a task of `kind`, secret token included. */
  callbackUrl: (kind: TaskKind) => string;
}

/** A provider error as a Temporal failure: its type drives the retry policy. */
export function toFailure(error: unknown): unknown {
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
    return ApplicationFailure.create({
      type: error.type,
      message: error.message,
      nonRetryable: error.type === 'AssetGone',
    });
  }
  return error;
}

async function mapped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toFailure(error);
  }
}

/** Activities: the only code that does I/O. Built from their dependencies so tests hand in fakes. */
export function createActivities(deps: ActivityDeps) {
  return {
    /** Submits to the provider; the callback URL (with its secret) never enters workflow history. */
    submitToProvider: async (args: {
      kind: TaskKind;
      input: Record<string, unknown>;
    }): Promise<{ taskId: string; submittedAt: string }> => {
      const taskId = await mapped(() =>
        deps.provider.submit(args.kind, args.input, deps.callbackUrl(args.kind)),
      );
      return { taskId, submittedAt: new Date().toISOString() };
    },

    /** Starts the task's musicTask workflow, or joins it when a callback started it first. */
    trackTask: async (input: MusicTaskInput): Promise<void> => {
      if (!deps.temporal || !deps.tracking) throw new Error('trackTask needs a Temporal client');
      const { taskId, kind, ...extra } = input;
      await startTracking(deps.temporal, deps.tracking, taskId, kind, extra);
    },

    queryProvider: async (args: { taskId: string; kind: TaskKind }): Promise<ProviderSnapshot> =>
      mapped(() => deps.provider.query(args.kind, args.taskId)),

    /** Streams one provider file into storage, heartbeating the bytes done. */
    storeAsset: async (spec: AssetSpec): Promise<StoredAsset> => {
      const context = Context.current();
      let lastBeat = 0;
      return mapped(() =>
        deps.assets.store(spec, {
          signal: context.cancellationSignal,
          onProgress: (bytes) => {
            const now = Date.now();
            if (now - lastBeat < 1_000) return;
            lastBeat = now;
            context.heartbeat(bytes);
          },
        }),
      );
    },
  };
}

export type MusicActivities = ReturnType<typeof createActivities>;
