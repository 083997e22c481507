/**
 * Names and shapes of the public Temporal contract (DESIGN.md): workflow ids, the signal, the
 * query and the search attributes. Shared by the workflows, the webhook, the API and the CLI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { TaskKind } from '../provider/kinds.ts';
import type { CallbackSignal, TaskState, TaskView } from './state.ts';

export type { CallbackSignal, ReceiptMeta } from './state.ts';

export const MUSIC_TASK_WORKFLOW = 'musicTask';
export const SUBMISSION_WORKFLOW = 'submitMusicTask';

export const musicTaskWorkflowId = (taskId: string) => `music-task-${taskId}`;
export const submissionWorkflowId = (idempotencyKey: string) => `music-submit-${idempotencyKey}`;

export const callbackSignal = defineSignal<[CallbackSignal]>('callback');
export const statusQuery = defineQuery<TaskView>('status');

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
  /** Where downloads run, apart from callback handling and polling (undefined: the workflow's own queue). */
  postprocessTaskQueue?: string;
  /** The first poll's delay when not POLL_INTERVAL: a task tracked by id asks the provider at once. */
  firstPollMs?: number;
  /** State carried over by continue-as-new. */
  state?: TaskState;
}

export interface SubmissionInput {
  kind: TaskKind;
  input: Record<string, unknown>;
  summary?: string;
  /** How the musicTask workflow that tracks the new task is started. */
  tracking: Pick<MusicTaskInput, 'timing' | 'postprocessTaskQueue'>;
}

export interface SubmissionResult {
  taskId: string;
  workflowId: string;
  kind: TaskKind;
  submittedAt: string;
}

export const MusicTaskStatusKey = defineSearchAttributeKey('MusicTaskStatus', SearchAttributeType.KEYWORD);
export const MusicTaskKindKey = defineSearchAttributeKey('MusicTaskKind', SearchAttributeType.KEYWORD);
export const MusicTaskReadyKey = defineSearchAttributeKey('MusicTaskReady', SearchAttributeType.BOOL);

/** Search attributes the service needs registered in its namespace, with their index types. */
export const SEARCH_ATTRIBUTES = {
  MusicTaskStatus: 'Keyword',
  MusicTaskKind: 'Keyword',
  MusicTaskReady: 'Bool',
} as const;
