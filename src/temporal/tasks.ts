import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { TaskKind } from '../provider/kinds.ts';
import {
  MUSIC_TASK_WORKFLOW,
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
  timing: MusicTaskInput['timing'];
}

export function trackingSettings(config: Config): TrackingSettings {
  return {
    taskQueue: config.temporal.taskQueue,
    postprocessTaskQueue: config.temporal.postprocessTaskQueue,
    timing: config.timing,
  };
}

function startOptions(
  settings: TrackingSettings,
  taskId: string,
  kind: TaskKind,
  extra: Partial<MusicTaskInput>,
) {
  const input: MusicTaskInput = {
    taskId,
    kind,
    timing: settings.timing,
    postprocessTaskQueue: settings.postprocessTaskQueue,
    ...extra,
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
