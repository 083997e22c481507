import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ProviderSnapshot } from '../provider/types.ts';
import type { StoredAsset } from '../workflows/state.ts';
import type { WorkerMetrics } from './workerMetrics.ts';

/** Every activity of ours takes one object that names its task (submitToProvider: its kind only). */
function taskOf(args: unknown[]): { taskId?: string; kind?: string } {
  const first = args[0];
  if (typeof first !== 'object' || first === null) return {};
  const { taskId, kind } = first as { taskId?: unknown; kind?: unknown };
  return {
    ...(typeof taskId === 'string' ? { taskId } : {}),
    ...(typeof kind === 'string' ? { kind } : {}),
  };
}

/** `submit`, `confirm` or `poll` for a provider call; undefined for any other activity. */
function providerCallPurpose(type: string, args: unknown[]): string | undefined {
  if (type === 'submitToProvider') return 'submit';
  if (type !== 'queryProvider') return undefined;
  const purpose = (args[0] as { purpose?: unknown } | undefined)?.purpose;
  return purpose === 'confirm' || purpose === 'poll' ? purpose : 'poll';
}

function failureType(error: unknown): string {
  if (error instanceof ApplicationFailure) return error.type ?? 'ApplicationFailure';
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * Counts polls and post-processing from the activities' inputs and results, and puts the task's
 * `taskId` and `kind` on every activity log line (the SDK adds `workflowId`).
 */
export function observeActivities(metrics: WorkerMetrics): ActivityInterceptorsFactory {
  return (context) => {
    let task: { taskId?: string; kind?: string } = {};
    return {
      inbound: {
        async execute(input, next) {
          task = taskOf(input.args);
          const kind = task.kind ?? 'unknown';
          const type = context.info.activityType;
          const storing = type === 'storeAssets';
          const purpose = providerCallPurpose(type, input.args);
          if (purpose) {
            const scheduled = context.info.currentAttemptScheduledTimestampMs;
            metrics.budgetWaitSeconds.labels(purpose).observe(Math.max(0, Date.now() - scheduled) / 1000);
          }
          const stopTimer = storing ? metrics.postprocessSeconds.startTimer({ kind }) : undefined;
          try {
            const result = await next(input);
            if (purpose) metrics.budgetCalls.labels(purpose, 'ok').inc();
            if (type === 'queryProvider') {
              metrics.polls.labels(kind, (result as ProviderSnapshot).status).inc();
            } else if (storing) {
              for (const asset of [result as StoredAsset | StoredAsset[]].flat()) {
                metrics.postprocessAssets.labels(kind, asset.type).inc();
                metrics.postprocessBytes.labels(kind, asset.type).inc(asset.bytes);
              }
              stopTimer?.();
            }
            return result;
          } catch (error) {
            if (purpose) metrics.budgetCalls.labels(purpose, failureType(error)).inc();
            if (type === 'queryProvider') metrics.polls.labels(kind, failureType(error)).inc();
            if (storing) metrics.postprocessFailures.labels(kind, failureType(error)).inc();
            throw error;
          }
        },
      },
      outbound: {
        getLogAttributes: (input, next) => next({ ...task, ...input }),
      },
    };
  };
}
