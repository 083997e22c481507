import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import type { createActivities } from '../activities/index.ts';
import { NON_RETRYABLE_PROVIDER_ERRORS } from '../provider/errors.ts';
import { SUCCESS_STATUS } from '../provider/kinds.ts';
import { planAssets, type AssetSpec } from './assetPlan.ts';
import { readCallbackSignal } from './signalInput.ts';
import {
  callbackSignal,
  MusicTaskKindKey,
  MusicTaskReadyKey,
  MusicTaskStatusKey,
  statusQuery,
  type MusicTaskInput,
} from './definitions.ts';
import {
  applySnapshot,
  CANCELLED,
  describeProgress,
  isSettled,
  newTaskState,
  NOT_FOUND_RETRY_MS,
  recordCallback,
  recordPoll,
  recordProviderNotFound,
  TIMED_OUT,
  toView,
  type StoredAsset,
  type TaskState,
  type TaskView,
} from './state.ts';
import { formatWait, waitUntil } from './wait.ts';

type Activities = ReturnType<typeof createActivities>;

const queryOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [...NON_RETRYABLE_PROVIDER_ERRORS],
  },
};
const storeOptions: ActivityOptions = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 5,
    // AssetInvalid retries too: the activity itself stops it after a few attempts.
    nonRetryableErrorTypes: ['AssetGone'],
  },
};
/**
 * Local activities retry inside the workflow task only for back-offs shorter than this; a longer one
 * becomes a durable timer, so a retrying provider or database never holds a workflow task open
 * (callbacks keep being applied and the task never runs past the SDK's one-second warning).
 */
const LOCAL_RETRY_THRESHOLD = '500ms';
// A local activity: a short database write keeps the task's history small (one marker event).
const { catalogTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1m',
  localRetryThreshold: LOCAL_RETRY_THRESHOLD,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});
const { queryProvider } = proxyActivities<Activities>(queryOptions);
/**
 * Since `local-query-v1` the provider is queried by a local activity: it runs inside the workflow
 * task that decided to query (no round trip through the server's activity queue) and leaves one
 * marker event instead of three. The call is short and idempotent; the retry policy is the same.
 */
const localQueryOptions: LocalActivityOptions = {
  startToCloseTimeout: queryOptions.startToCloseTimeout!,
  retry: queryOptions.retry!,
  localRetryThreshold: LOCAL_RETRY_THRESHOLD,
};
const { queryProvider: queryProviderLocally } = proxyLocalActivities<Activities>(localQueryOptions);

/** Why an activity failed: its failure type (e.g. `ProviderTaskNotFound`) and message. */
interface ActivityOutcome {
  type: string | undefined;
  message: string;
}

/**
 * The failure of an activity, regular or local; undefined for any other error (cancellation
 * included), which the caller rethrows. A regular activity's failure arrives wrapped in an
 * `ActivityFailure`; a local activity's arrives as the activity threw it.
 */
function activityFailed(error: unknown): ActivityOutcome | undefined {
  const failure = error instanceof ActivityFailure ? (error.cause ?? error) : error;
  if (failure instanceof ApplicationFailure)
    return { type: failure.type ?? undefined, message: failure.message };
  if (failure instanceof TimeoutFailure || failure instanceof ActivityFailure)
    return { type: undefined, message: failure.message };
  return undefined;
}

/**
 * Every change guarded by `patched()`. Each is decided in the run's first workflow task, ahead of
 * any local activity: Temporal's core SDK fails to replay a patch marker recorded after a local
 * activity's marker in one workflow task when it answers a query on a closed run. Runs recorded
 * before a patch decide false there and again where the patch applies.
 */
const PATCHES = {
  /** The provider query is a local activity. */
  localQuery: 'local-query-v1',
  /** A task's files are stored by one activity. */
  storeBatch: 'store-batch-v1',
  /** A stored task is recorded in the catalog. */
  catalog: 'catalog-v1',
  /** A cancelled task closes as Canceled (it completed with status CANCELLED before). */
  canceledStatus: 'canceled-status-v1',
  /** An "unknown task" answer is asked again within seconds; the wait timer carries a summary. */
  quickNotFound: 'quick-not-found-v1',
} as const;
/** History length at which the run continues as new, even before the server suggests it. */
const HISTORY_EVENTS_LIMIT = 2_000;

/**
 * Tracks one provider task until it settles: callbacks (signal `callback`) wake it, a backing-off
 * timer polls when they stay silent, a terminal callback is confirmed by one query, and finished
 * files are stored before the task is marked ready.
 */
export async function musicTask(input: MusicTaskInput): Promise<TaskView> {
  const info = workflowInfo();
  for (const patch of Object.values(PATCHES)) patched(patch);
  const state: TaskState =
    input.state ??
    newTaskState(input.taskId, input.kind, input.submittedAt ?? info.startTime.toISOString(), input.summary);
  const { pollIntervalMs, pollMaxIntervalMs, taskDeadlineMs } = input.timing;
  const deadline = Date.parse(state.submittedAt) + taskDeadlineMs;
  const published = { status: '', ready: false, details: '' };

  const publish = () => {
    if (state.status !== published.status || state.ready !== published.ready) {
      upsertSearchAttributes([
        { key: MusicTaskStatusKey, value: state.status },
        { key: MusicTaskKindKey, value: state.kind },
        { key: MusicTaskReadyKey, value: state.ready },
      ]);
      published.status = state.status;
      published.ready = state.ready;
    }
    const details = describeProgress(state);
    if (details !== published.details) setCurrentDetails(details);
    published.details = details;
  };

  setHandler(statusQuery, () => toView(state, info.workflowId));
  setHandler(callbackSignal, (payload: unknown) => {
    const signal = readCallbackSignal(payload, state.kind, new Date().toISOString());
    if (typeof signal === 'string') {
      log.warn('ignored a callback signal', { taskId: state.taskId, reason: signal });
      return;
    }
    const duplicate = recordCallback(state, signal);
    // Debug: the webhook already logs each callback at info, with its outcome.
    if (!duplicate) log.debug('callback', { taskId: state.taskId, phase: signal.callback.phase });
  });

  const poll = async (reason: 'timer' | 'confirm') => {
    const at = new Date().toISOString();
    try {
      const args: Parameters<Activities['queryProvider']> = [{ taskId: state.taskId, kind: state.kind }];
      const summary = `query provider (${reason})`;
      // Histories recorded before `local-query-v1` replay with the query as a regular activity.
      const snapshot = patched(PATCHES.localQuery)
        ? await queryProviderLocally.executeWithOptions({ ...localQueryOptions, summary }, args)
        : await queryProvider.executeWithOptions({ ...queryOptions, summary }, args);
      applySnapshot(state, snapshot, reason, at, snapshot.finished);
    } catch (error) {
      const failed = activityFailed(error);
      if (!failed) throw error;
      recordPoll(state, { at, reason, error: failed.type ?? failed.message });
      if (failed.type === 'ProviderTaskNotFound') recordProviderNotFound(state);
    }
  };

  try {
    await CancellationScope.cancellable(async () => {
      // A task tracked by id (not submitted here) asks the provider at once whether it knows it.
      let backoff = input.firstPollMs ?? pollIntervalMs;
      while (!isSettled(state)) {
        if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_EVENTS_LIMIT) {
          await condition(allHandlersFinished);
          state.runs += 1;
          await continueAsNew<typeof musicTask>({ ...input, firstPollMs: undefined, state });
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          state.status = TIMED_OUT;
          state.error = {
            code: TIMED_OUT,
            message: `not finished within ${taskDeadlineMs} ms of submission`,
          };
          break;
        }
        const quickNotFound = patched(PATCHES.quickNotFound);
        const wait =
          quickNotFound && state.notFoundPolls > 0 ? Math.min(backoff, NOT_FOUND_RETRY_MS) : backoff;
        // ±10% jitter keeps thousands of tasks from polling the provider in lockstep.
        const delay = Math.min(remaining, Math.round(wait * (0.9 + Math.random() * 0.2)));
        state.nextPollAt = new Date(Date.now() + delay).toISOString();
        publish();
        const news = () => state.confirmationWanted || state.heardFromProvider;
        const woken = quickNotFound
          ? await waitUntil(news, delay, `wait for a callback; poll in ${formatWait(delay)}`)
          : await condition(news, delay);
        if (woken) {
          if (state.heardFromProvider) backoff = pollIntervalMs;
          state.heardFromProvider = false;
          if (state.confirmationWanted) {
            state.confirmationWanted = false;
            await poll('confirm');
          }
        } else if (Date.now() < deadline) {
          await poll('timer');
          backoff = Math.min(Math.max(backoff * 2, pollIntervalMs), pollMaxIntervalMs);
        }
      }
      state.nextPollAt = undefined;
      if (state.status === SUCCESS_STATUS) {
        publish();
        await storeAssets(state, { ...storeOptions, taskQueue: input.postprocessTaskQueue });
      }
    });
  } catch (error) {
    if (!isCancellation(error)) throw error;
    if (!state.ready) {
      state.status = CANCELLED;
      state.error = undefined;
    }
    if (patched(PATCHES.canceledStatus)) {
      // Close as Temporal's own Canceled, the view recorded first (a query of the closed run reads it).
      state.updatedAt = new Date().toISOString();
      publish();
      throw error;
    }
  }
  state.updatedAt = new Date().toISOString();
  publish();
  return toView(state, info.workflowId);
}

/** One activity per file: how tasks recorded before `store-batch-v1` stored their files. */
async function storeOneActivityPerFile(
  specs: AssetSpec[],
  options: ActivityOptions,
): Promise<PromiseSettledResult<StoredAsset>[]> {
  const { storeAsset } = proxyActivities<Activities>(options);
  // Every file settles (stored or failed) before the task does: no activity is left behind.
  return Promise.allSettled(
    specs.map((spec) => storeAsset.executeWithOptions({ ...options, summary: `store ${spec.name}` }, [spec])),
  );
}

/** Every file in one activity: the history no longer grows with the file count. */
async function storeInOneActivity(
  state: TaskState,
  specs: AssetSpec[],
  options: ActivityOptions,
): Promise<PromiseSettledResult<StoredAsset>[]> {
  const { storeAssets: storeAll } = proxyActivities<Activities>(options);
  try {
    const stored = await storeAll.executeWithOptions(
      { ...options, summary: `store ${specs.length} file${specs.length === 1 ? '' : 's'}` },
      [{ taskId: state.taskId, kind: state.kind, specs }],
    );
    return stored.map((value) => ({ status: 'fulfilled', value }));
  } catch (reason) {
    return [{ status: 'rejected', reason }];
  }
}

async function storeAssets(state: TaskState, options: ActivityOptions): Promise<void> {
  const specs = planAssets(state.taskId, state.kind, state.result);
  // Histories recorded before the one-activity batch replay one activity per file.
  const outcomes =
    specs.length && patched(PATCHES.storeBatch)
      ? await storeInOneActivity(state, specs, options)
      : await storeOneActivityPerFile(specs, options);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (!failed) {
    state.assets = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<StoredAsset>).value);
    // Histories recorded before the catalog existed replay without this step.
    if (patched(PATCHES.catalog)) {
      try {
        await catalogTask({
          taskId: state.taskId,
          kind: state.kind,
          status: state.status,
          ready: true,
          summary: state.summary,
          submittedAt: state.submittedAt,
          tracks: state.result.tracks ?? [],
          assets: state.assets,
          lyrics: state.result.lyrics,
        });
      } catch (error) {
        const catalogFailure = activityFailed(error);
        if (!catalogFailure) throw error;
        state.error = { code: 'CatalogFailed', message: catalogFailure.message };
        return;
      }
    }
    state.ready = true;
    return;
  }
  const error: unknown = failed.reason;
  const outcome = activityFailed(error);
  if (!outcome) throw error;
  state.error = { code: outcome.type ?? 'AssetStoreFailed', message: outcome.message };
}
