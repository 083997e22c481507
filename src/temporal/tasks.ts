import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Config } from '../config.ts';
import type { NotifyRetry, NotifyTarget } from '../notifications/events.ts';
import type { TaskKind } from '../provider/kinds.ts';
import {
  callbackSignal,
  earlyCallbackSignal,
  MUSIC_TASK_WORKFLOW,
  submissionWorkflowId,
  musicTaskWorkflowId,
  MusicTaskKindKey,
  MusicTaskReadyKey,
  MusicTaskStatusKey,
  type CallbackSignal,
  type MusicTaskInput,
} from '../workflows/definitions.ts';
import type { musicTask } from '../workflows/musicTask.ts';

/** Where the musicTask workflows of this deployment run, and how they are timed. */
export interface TrackingSettings {
  taskQueue: string;
  postprocessTaskQueue: string;
  providerTaskQueue: string;
  timing: MusicTaskInput['timing'];
  /** Notifications: the default URL (NOTIFY_URL) for tasks that name none, and the retry schedule. */
  notify?: { defaultUrl?: string; retry: NotifyRetry };
}

/** Where a task's terminal event goes: `url`, on this deployment's retry schedule. */
export function notifyTarget(settings: TrackingSettings, url: string): NotifyTarget {
  if (!settings.notify) throw new Error('these tracking settings have no notification schedule');
  return { url, retry: settings.notify.retry };
}

export function trackingSettings(config: Config): TrackingSettings {
  return {
    taskQueue: config.temporal.taskQueue,
    postprocessTaskQueue: config.temporal.postprocessTaskQueue,
    providerTaskQueue: config.temporal.providerTaskQueue,
    timing: config.timing,
    notify: { defaultUrl: config.notify.url, retry: config.notify.retry },
  };
}

function startOptions(
  settings: TrackingSettings,
  taskId: string,
  kind: TaskKind,
  extra: Partial<MusicTaskInput>,
) {
  const defaultUrl = settings.notify?.defaultUrl;
  const notify = extra.notify ?? (defaultUrl ? notifyTarget(settings, defaultUrl) : undefined);
  const input: MusicTaskInput = {
    taskId,
    kind,
    timing: settings.timing,
    postprocessTaskQueue: settings.postprocessTaskQueue,
    providerTaskQueue: settings.providerTaskQueue,
    ...extra,
    ...(notify ? { notify } : {}),
  };
  return {
    workflowId: musicTaskWorkflowId(taskId),
    taskQueue: settings.taskQueue,
    args: [input] as [MusicTaskInput],
    // A task id is tracked by one run, ever: a closed task is never started again.
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    staticSummary: `${kind} ${taskId}${extra.summary ? ` — ${extra.summary}` : ''}`,
    // The memo comes back with every row of a list: `list` shows the title without a query per task.
    ...(extra.summary ? { memo: { title: extra.summary } } : {}),
    typedSearchAttributes: [
      { key: MusicTaskStatusKey, value: 'PENDING' },
      { key: MusicTaskKindKey, value: kind },
      { key: MusicTaskReadyKey, value: false },
    ],
  };
}

/**
 * Starts tracking a task, or joins the run that already tracks it (a callback may have come first).
 * `closed` says the task's run had already closed: nothing was started.
 */
export async function startTracking(
  client: Client,
  settings: TrackingSettings,
  taskId: string,
  kind: TaskKind,
  extra: Partial<MusicTaskInput> = {},
): Promise<{ handle: WorkflowHandle<typeof musicTask>; closed: boolean }> {
  const options = startOptions(settings, taskId, kind, extra);
  try {
    const handle = await client.workflow.start<typeof musicTask>(MUSIC_TASK_WORKFLOW, {
      ...options,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    return { handle, closed: false };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    return { handle: client.workflow.getHandle(options.workflowId), closed: true };
  }
}

/**
 * Delivers a callback to its task's workflow, starting the workflow when none runs yet.
 * @returns false when the task's workflow has already closed (nothing was recorded).
 */
export async function deliverCallback(
  client: Client,
  settings: TrackingSettings,
  signal: CallbackSignal,
): Promise<boolean> {
  const options = startOptions(settings, signal.callback.taskId, signal.callback.kind, {});
  try {
    await client.workflow.signalWithStart<typeof musicTask, [CallbackSignal]>(MUSIC_TASK_WORKFLOW, {
      ...options,
      signal: 'callback',
      signalArgs: [signal],
    });
    return true;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
}

/** Signals a running workflow; false when it is not running (closed, or never started). */
async function signalIfRunning(
  handle: WorkflowHandle,
  signal: CallbackSignal,
  definition: typeof callbackSignal,
): Promise<boolean> {
  try {
    await handle.signal(definition, signal);
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * Delivers a callback that came through a signed per-task URL, starting nothing: a leaked URL
 * cannot create workflows. The task's workflow decides whether the nonce is its own. A callback
 * that beats the submit answer (no task workflow yet) waits in the submission's workflow, which
 * hands it on once it knows its task id.
 * @param submissionKey the idempotency key the URL was issued for; undefined for a task tracked with PUT
 * @returns false when neither workflow takes it any more (closed, or never ours)
 */
export async function deliverToTracked(
  client: Client,
  signal: CallbackSignal,
  submissionKey: string | undefined,
): Promise<boolean> {
  const task = client.workflow.getHandle(musicTaskWorkflowId(signal.callback.taskId));
  if (await signalIfRunning(task, signal, callbackSignal)) return true;
  if (submissionKey === undefined) return false;
  const submission = client.workflow.getHandle(submissionWorkflowId(submissionKey));
  if (await signalIfRunning(submission, signal, earlyCallbackSignal)) return true;
  // The submission closed in between: it has started the task's workflow by now, if the task is its own.
  return signalIfRunning(task, signal, callbackSignal);
}
