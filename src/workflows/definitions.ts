/**
 * Names and shapes of the public Temporal contract (DESIGN.md): workflow ids, the signal, the
 * query and the search attributes. Shared by the workflows, the webhook, the API and the CLI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { NotifyTarget } from '../notifications/events.ts';
import type { TaskKind } from '../provider/kinds.ts';
import type { CallbackSignal, TaskState, TaskView } from './state.ts';

export type { CallbackSignal, ReceiptMeta } from './state.ts';

export const MUSIC_TASK_WORKFLOW = 'musicTask';
export const SUBMISSION_WORKFLOW = 'submitMusicTask';

export const musicTaskWorkflowId = (taskId: string) => `music-task-${taskId}`;
export const submissionWorkflowId = (idempotencyKey: string) => `music-submit-${idempotencyKey}`;
/** The idempotency key a submission workflow id was made from. */
export const idempotencyKeyOf = (workflowId: string) => workflowId.replace(/^music-submit-/, '');
/** The provider task id a musicTask workflow id was made from. */
export const taskIdOf = (workflowId: string) => workflowId.replace(/^music-task-/, '');

/** Failure type of a submission the provider never answered in time; asking again restarts it. */
export const SUBMIT_DEADLINE_EXCEEDED = 'SubmitDeadlineExceeded';

export const callbackSignal = defineSignal<[CallbackSignal]>('callback');
export const statusQuery = defineQuery<TaskView>('status');
/** A callback that came before the submission knew its task id; the submission hands it on. */
export const earlyCallbackSignal = defineSignal<[CallbackSignal]>('earlyCallback');

export interface TaskTimingInput {
  pollIntervalMs: number;
  pollMaxIntervalMs: number;
  taskDeadlineMs: number;
}

export interface MusicTaskInput {
  taskId: string;
  kind: TaskKind;
  /** ISO time the task was submitted to the provider; the deadline counts from it. */
  submittedAt?: string;
  /** Title or prompt, for people reading the task. */
  summary?: string;
  timing: TaskTimingInput;
  /** Where provider calls run, under the fleet's budget (undefined: the workflow's own queue). */
  providerTaskQueue?: string;
  /** Where downloads run, apart from callback handling and polling (undefined: the workflow's own queue). */
  postprocessTaskQueue?: string;
  /** The nonce of the callback URL the task was submitted with: callbacks through other URLs are ignored. */
  callbackNonce?: string;
  /** The first poll's delay when not POLL_INTERVAL: a task tracked by id asks the provider at once. */
  firstPollMs?: number;
  /** Where the task's terminal event is delivered; absent: nowhere (the task runs exactly as without). */
  notify?: NotifyTarget;
  /** State carried over by continue-as-new. */
  state?: TaskState;
}

export interface SubmissionInput {
  kind: TaskKind;
  input: Record<string, unknown>;
  summary?: string;
  /** ISO time the request was accepted; `submitDeadlineMs` counts from it. */
  queuedAt: string;
  submitDeadlineMs: number;
  /** How the musicTask workflow that tracks the new task is started. */
  tracking: Pick<MusicTaskInput, 'timing' | 'postprocessTaskQueue' | 'providerTaskQueue' | 'notify'>;
}

export interface SubmissionResult {
  status: 'SUBMITTED';
  taskId: string;
  workflowId: string;
  kind: TaskKind;
  submittedAt: string;
}

/** A submission the provider refused for good (400/401/413/429): never sent again. */
export interface SubmissionRejected {
  status: 'REJECTED';
  kind: TaskKind;
  error: { type: string; message: string; providerCode: number | null };
}

export type SubmissionOutcome = SubmissionResult | SubmissionRejected;

export const MusicTaskStatusKey = defineSearchAttributeKey('MusicTaskStatus', SearchAttributeType.KEYWORD);
export const MusicTaskKindKey = defineSearchAttributeKey('MusicTaskKind', SearchAttributeType.KEYWORD);
export const MusicTaskReadyKey = defineSearchAttributeKey('MusicTaskReady', SearchAttributeType.BOOL);
/** When the task's newest event was recorded (epoch ms) and its sequence number (`events.ts`). */
export const MusicTaskEventAtKey = defineSearchAttributeKey('MusicTaskEventAt', SearchAttributeType.INT);
export const MusicTaskEventSeqKey = defineSearchAttributeKey('MusicTaskEventSeq', SearchAttributeType.INT);

/** Search attributes the service needs registered in its namespace, with their index types. */
export const SEARCH_ATTRIBUTES = {
  MusicTaskStatus: 'Keyword',
  MusicTaskKind: 'Keyword',
  MusicTaskReady: 'Bool',
  MusicTaskEventAt: 'Int',
  MusicTaskEventSeq: 'Int',
} as const;
