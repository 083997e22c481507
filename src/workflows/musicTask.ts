import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { createActivities } from '../activities/index.ts';
import type { CatalogEntry } from '../catalog/types.ts';
import { CALL_PRIORITY } from '../temporal/callPriority.ts';
import { SUCCESS_STATUS } from '../provider/kinds.ts';
import { planAssets } from './assetPlan.ts';
import { taskNonce } from './callbackNonce.ts';
import { readCallbackSignal, refusalOf } from './signalInput.ts';
import {
  callbackSignal,
  MusicTaskEventAtKey,
  MusicTaskEventSeqKey,
  MusicTaskKindKey,
  MusicTaskReadyKey,
  MusicTaskStatusKey,
  statusQuery,
  type MusicTaskInput,
} from './definitions.ts';
import {
  applySnapshot,
  describeProgress,
  isSettled,
  newTaskState,
  NOT_FOUND_RETRY_MS,
  recordCallback,
  recordPoll,
  recordCancelled,
  recordProviderNotFound,
  recordTimedOut,
  takeNews,
  toView,
  type TaskState,
  type TaskView,
} from './state.ts';
import {
  eventsAfter,
  eventsQuery,
  type EventsPage,
  noteStatus,
  recordCallbackEvent,
  recordEnd,
  recordPollEvent,
  recordProviderCallEvent,
  startEventLog,
  startIdlePublisher,
  takeEventAttributes,
  unpublished,
} from './events.ts';
import { formatWait, waitUntil } from './wait.ts';
import { notifyTargetSignal } from '../notifications/events.ts';
import { notifyApp } from './notify.ts';

type Activities = ReturnType<typeof createActivities>;

const storeOptions: ActivityOptions = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 5,
  },
};
// A local activity: a short database write keeps the task's history small (one marker event).
const { catalogTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1m',
  // Back-offs past this become durable timers: a retrying database never holds a workflow task open.
  localRetryThreshold: '500ms',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});
/**
 * The provider query runs on the provider queue, under the fleet's budget. It waits there as long
 * as the budget says (up to the task's deadline); a rate-limited attempt retries after the
 * provider's Retry-After. A call still queued when it is no longer wanted is withdrawn.
 */
const queryOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
  },
};
const { queryProvider } = proxyActivities<Activities>(queryOptions);

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

/** History length at which the run continues as new, even before the server suggests it. */
const HISTORY_EVENTS_LIMIT = 2_000;

/**
 * Tracks one provider task until it settles: callbacks (signal `callback`) wake it, a backing-off
 * timer polls when they stay silent, a terminal callback is confirmed by one query, and finished
 * files are stored before the task is marked ready.
 */
export async function musicTask(input: MusicTaskInput): Promise<TaskView & { eventLog?: EventsPage }> {
  const info = workflowInfo();
  const state: TaskState =
    input.state ??
    newTaskState(input.taskId, input.kind, input.submittedAt ?? info.startTime.toISOString(), input.summary);
  const { pollIntervalMs, pollMaxIntervalMs, taskDeadlineMs } = input.timing;
  const deadline = Date.parse(state.submittedAt) + taskDeadlineMs;
  const published = { status: '', ready: false, details: '' };
  startEventLog(state);
  /** What would wake the main line now: the idle publisher leaves the publishing to it then. */
  let mainWakes: () => boolean = () => false;

  const publish = () => {
    noteStatus(state);
    if (state.status !== published.status || state.ready !== published.ready || unpublished(state)) {
      // One upsert: the newest event rides with the status (a search attribute is a history event).
      const newest = takeEventAttributes(state);
      upsertSearchAttributes([
        { key: MusicTaskStatusKey, value: state.status },
        { key: MusicTaskKindKey, value: state.kind },
        { key: MusicTaskReadyKey, value: state.ready },
        { key: MusicTaskEventAtKey, value: newest.at },
        { key: MusicTaskEventSeqKey, value: newest.seq },
      ]);
      published.status = state.status;
      published.ready = state.ready;
    }
    const details = describeProgress(state);
    if (details !== published.details) setCurrentDetails(details);
    published.details = details;
  };

  // A task tracked again (PUT) with a notifyUrl: the terminal event goes there.
  let notify = input.notify;
  setHandler(notifyTargetSignal, (target) => {
    notify = target;
  });

  setHandler(statusQuery, () => toView(state, info.workflowId));
  setHandler(eventsQuery, (afterSeq) => eventsAfter(state, afterSeq));
  setHandler(callbackSignal, (payload: unknown) => {
    const signal = readCallbackSignal(payload, state.kind, new Date().toISOString());
    const refusal =
      typeof signal === 'string'
        ? signal
        : refusalOf(signal, {
            taskId: state.taskId,
            kind: state.kind,
            nonces: [taskNonce(state.taskId), ...(input.callbackNonce ? [input.callbackNonce] : [])],
          });
    if (typeof signal === 'string' || refusal) {
      log.warn('ignored a callback signal', { taskId: state.taskId, reason: refusal });
      return;
    }
    const duplicate = recordCallback(state, signal);
    recordCallbackEvent(state, signal.callback.phase, duplicate);
    // Debug: the webhook already logs each callback at info, with its outcome.
    if (!duplicate) log.debug('callback', { taskId: state.taskId, phase: signal.callback.phase });
  });

  /**
   * One provider query, the task's only call in flight. A timer poll still queued when a callback
   * asks for confirmation is withdrawn, so the confirmation (which goes first) takes its place.
   */
  const poll = async (reason: 'timer' | 'confirm') => {
    const purpose = reason === 'confirm' ? 'confirm' : 'poll';
    const at = new Date().toISOString();
    const pollsBefore = state.pollCount;
    state.providerCall = { purpose, queuedAt: at };
    recordProviderCallEvent(state);
    publish();
    const call = new CancellationScope();
    const answer = call.run(() =>
      queryProvider.executeWithOptions(
        {
          ...queryOptions,
          taskQueue: input.providerTaskQueue,
          scheduleToCloseTimeout: Math.max(1_000, deadline - Date.now()),
          priority: { priorityKey: CALL_PRIORITY[purpose] },
          summary: reason === 'confirm' ? 'confirm the callback with a query' : 'poll the provider',
        },
        [{ taskId: state.taskId, kind: state.kind, purpose }],
      ),
    );
    if (purpose === 'poll') {
      const watch = new CancellationScope();
      const wanted = watch.run(() => condition(() => state.confirmationWanted));
      const settled = answer.then(
        () => false,
        () => false,
      );
      mainWakes = () => state.confirmationWanted;
      const withdraw = await Promise.race([settled, wanted.then(() => true)]);
      mainWakes = () => false;
      if (withdraw) call.cancel();
      watch.cancel();
      wanted.catch(() => undefined);
    }
    try {
      const snapshot = await answer;
      applySnapshot(state, snapshot, reason, at, snapshot.finished);
    } catch (error) {
      if (
        isCancellation(error) &&
        call.consideredCancelled &&
        !CancellationScope.current().consideredCancelled
      ) {
        // Withdrawn before the budget let it run: the confirmation follows at once.
        return;
      }
      const failed = activityFailed(error);
      if (!failed) throw error;
      recordPoll(state, { at, reason, error: failed.type ?? failed.message });
      if (failed.type === 'ProviderTaskNotFound') recordProviderNotFound(state);
    } finally {
      state.providerCall = undefined;
      if (state.pollCount !== pollsBefore) recordPollEvent(state);
    }
  };
  startIdlePublisher(state, publish, () => mainWakes());

  try {
    await CancellationScope.cancellable(async () => {
      // A task tracked by id (not submitted here) asks the provider at once whether it knows it.
      let backoff = input.firstPollMs ?? pollIntervalMs;
      while (!isSettled(state)) {
        if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_EVENTS_LIMIT) {
          await condition(allHandlersFinished);
          state.runs += 1;
          await continueAsNew<typeof musicTask>({
            ...input,
            firstPollMs: undefined,
            state,
            ...(notify ? { notify } : {}),
          });
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          recordTimedOut(state, taskDeadlineMs, new Date().toISOString());
          break;
        }
        // An "unknown task" answer is asked again within seconds: a wrong id ends quickly.
        const wait = state.notFoundPolls > 0 ? Math.min(backoff, NOT_FOUND_RETRY_MS) : backoff;
        // ±10% jitter keeps thousands of tasks from polling the provider in lockstep.
        const delay = Math.min(remaining, Math.round(wait * (0.9 + Math.random() * 0.2)));
        state.nextPollAt = new Date(Date.now() + delay).toISOString();
        publish();
        const hasNews = () => state.confirmationWanted || state.heardFromProvider;
        mainWakes = hasNews;
        const woken = await waitUntil(hasNews, delay, `wait for a callback; poll in ${formatWait(delay)}`);
        mainWakes = () => false;
        if (woken) {
          const news = takeNews(state);
          if (news.heard) backoff = pollIntervalMs;
          if (news.confirm) await poll('confirm');
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
    // Close as Temporal's own Canceled, the view recorded first (a query of the closed run reads it).
    recordCancelled(state, new Date().toISOString());
    recordEnd(state);
    publish();
    if (notify) await notifyApp(state, notify, info.workflowId, publish);
    throw error;
  }
  state.updatedAt = new Date().toISOString();
  recordEnd(state);
  publish();
  if (notify) await notifyApp(state, notify, info.workflowId, publish);
  // The final events ride in the result: a closed task's stream reads them without a worker.
  return { ...toView(state, info.workflowId), eventLog: eventsAfter(state, 0) };
}

/** The task as the catalog records it, its stored files apart. */
function catalogEntryOf(state: TaskState): Omit<CatalogEntry, 'assets'> {
  return {
    taskId: state.taskId,
    kind: state.kind,
    status: state.status,
    ready: true,
    summary: state.summary,
    submittedAt: state.submittedAt,
    tracks: state.result.tracks ?? [],
    lyrics: state.result.lyrics,
  };
}

/**
 * Stores the files and records the task in the catalog: one activity that does both when there are
 * files (the workflow then completes in the task that reads its result), the catalog write alone as
 * a local activity when there are none.
 */
async function storeAssets(state: TaskState, options: ActivityOptions): Promise<void> {
  const specs = planAssets(state.taskId, state.kind, state.result);
  const { storeAssets: storeAll } = proxyActivities<Activities>(options);
  try {
    if (specs.length) {
      state.assets = await storeAll.executeWithOptions(
        { ...options, summary: `store ${specs.length} file${specs.length === 1 ? '' : 's'}` },
        [{ taskId: state.taskId, kind: state.kind, specs, catalog: catalogEntryOf(state) }],
      );
    } else {
      await catalogTask({ ...catalogEntryOf(state), assets: [] });
    }
  } catch (error) {
    const outcome = activityFailed(error);
    if (!outcome) throw error;
    state.error = { code: outcome.type ?? 'AssetStoreFailed', message: outcome.message };
    return;
  }
  state.ready = true;
}
