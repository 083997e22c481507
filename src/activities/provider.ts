/** Provider calls: they run on the provider task queue, under the fleet's budget. */
import { Context } from '@temporalio/activity';
import { ProviderError } from '../provider/errors.ts';
import type { ProviderClient } from '../provider/client.ts';
import type { TaskKind } from '../provider/kinds.ts';
import type { ProviderSnapshot } from '../provider/types.ts';
import type { CallPurpose } from '../temporal/callPriority.ts';
import { toFailure } from './failures.ts';

export interface ProviderActivityDeps {
  provider: Pick<ProviderClient, 'submit' | 'query'>;
  /** The URL the provider calls back for a task of `kind`, signed for `nonce` (one submission). */
  callbackUrl: (kind: TaskKind, nonce: string) => string;
  /** Told of every 430/405: slows the whole fleet (see `BudgetGovernor`). */
  onRateLimited?: (retryAfterMs: number | undefined) => Promise<void>;
}

export function providerActivities(deps: ProviderActivityDeps) {
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
      callbackNonce: string;
    }): Promise<{ taskId: string; submittedAt: string }> => {
      const taskId = await providerCall(() =>
        deps.provider.submit(args.kind, args.input, deps.callbackUrl(args.kind, args.callbackNonce)),
      );
      Context.current().log.info('submitted to the provider', { taskId, kind: args.kind });
      return { taskId, submittedAt: new Date().toISOString() };
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
  };
}
