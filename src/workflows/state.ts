/**
 * The task's state machine, pure and deterministic: the workflow drives it, unit tests call it
 * directly. It only moves forward and dedupes callbacks in its own state.
 */
import { isFailureStatus, progressRank, SUCCESS_STATUS, type TaskKind } from '../provider/kinds.ts';
import type { z } from 'zod';
import type {
  pollRecord,
  providerCall,
  receipt,
  StoredAssetView,
  TaskView as PublicTaskView,
} from '../contract/schemas.ts';
import type { CallbackPhase, ProviderFailure, ProviderSnapshot, TaskResult } from '../provider/types.ts';
import type { NotificationRecord } from '../notifications/events.ts';
import type { EventLog } from './eventTypes.ts';

export const TIMED_OUT = 'TIMED_OUT';
export const CANCELLED = 'CANCELLED';

/** Consecutive "unknown task" answers after which the provider is believed. */
export const NOT_FOUND_LIMIT = 3;
/** How soon an "unknown task" answer is asked again: a wrong id ends in seconds, not minutes. */
export const NOT_FOUND_RETRY_MS = 5_000;

/** Receipts kept in full per phase; older ones only count. */
export const RECEIPTS_KEPT_PER_PHASE = 10;
export const POLLS_KEPT = 20;
/** Body hashes remembered for dedup; a storm of distinct bodies cannot grow the state past it. */
export const BODY_HASHES_KEPT = 64;

/** When and how the webhook received a callback; kept in the workflow's receipts. */
export interface ReceiptMeta {
  receivedAt: string;
  /** The body's fingerprint (`callbackKey`): the same body twice is a duplicate whatever its phase. */
  bodyHash: string;
}

/**
 * What the workflow reads of a callback: which task, which phase, and the proof it came with. No
 * result: a callback only says that something happened; the files come from the confirming query.
 */
export interface CallbackNotice {
  taskId: string;
  kind: TaskKind;
  phase: CallbackPhase;
  code: number;
  /**
   * The nonce of the callback URL it came through (its HMAC already checked by the webhook);
   * absent when it came with the operator's own secret. The workflow takes only its own.
   */
  nonce?: string;
}

export interface CallbackSignal {
  callback: CallbackNotice;
  receipt: ReceiptMeta;
}

export type CallbackReceipt = z.infer<typeof receipt>;
export type PollRecord = z.infer<typeof pollRecord>;
/** A provider call the task is waiting on: queued for the fleet's budget, or being answered. */
export type ProviderCall = z.infer<typeof providerCall>;
/** A stored copy, as the workflow records it (the API adds the `url` it is served at). */
export type StoredAsset = Omit<StoredAssetView, 'url'> & { url?: string };

export interface TaskState {
  taskId: string;
  kind: TaskKind;
  summary?: string;
  submittedAt: string;
  updatedAt: string;
  status: string;
  ready: boolean;
  result: TaskResult;
  assets: StoredAsset[];
  error?: ProviderFailure;
  receipts: CallbackReceipt[];
  receiptCounts: { total: number; duplicates: number; byPhase: Partial<Record<CallbackPhase, number>> };
  seenBodies: string[];
  polls: PollRecord[];
  pollCount: number;
  notFoundPolls: number;
  nextPollAt?: string;
  providerCall?: ProviderCall;
  /** A callback claimed the task ended: one query must confirm it before anything is trusted. */
  confirmationWanted: boolean;
  /** A callback arrived since the last wait: polling backs off from the start again. */
  heardFromProvider: boolean;
  runs: number;
  /** The terminal event's delivery to the app; absent for a task with no notification URL. */
  notification?: NotificationRecord;
  /** The task's events (`events.ts`); absent in a state carried over from a run without one. */
  log?: EventLog;
}

/**
 * What the query `status` answers: the public view of `GET /v1/tasks/:taskId` (src/contract), before
 * the API adds each asset's URL.
 */
export type TaskView = Omit<PublicTaskView, 'assets'> & { assets: StoredAsset[] };

export function newTaskState(taskId: string, kind: TaskKind, now: string, summary?: string): TaskState {
  return {
    taskId,
    kind,
    summary,
    submittedAt: now,
    updatedAt: now,
    status: 'PENDING',
    ready: false,
    result: {},
    assets: [],
    receipts: [],
    receiptCounts: { total: 0, duplicates: 0, byPhase: {} },
    seenBodies: [],
    polls: [],
    pollCount: 0,
    notFoundPolls: 0,
    confirmationWanted: false,
    heardFromProvider: false,
    runs: 1,
  };
}

/** Provider success, a provider failure, TIMED_OUT or CANCELLED: nothing moves it any more. */
export function isSettled(state: Pick<TaskState, 'status'>): boolean {
  return (
    state.status === SUCCESS_STATUS ||
    isFailureStatus(state.status) ||
    state.status === TIMED_OUT ||
    state.status === CANCELLED
  );
}

/** The status a callback phase announces without needing confirmation. */
const PHASE_STATUS: Partial<Record<CallbackPhase, string>> = { text: 'TEXT_SUCCESS', first: 'FIRST_SUCCESS' };

/** Moves to a progress status only when it is further along; settled states never move. */
function advance(state: TaskState, status: string): boolean {
  if (isSettled(state) || progressRank(status) <= progressRank(state.status)) return false;
  state.status = status;
  return true;
}

function mergeResult(state: TaskState, result: TaskResult): void {
  for (const [key, value] of Object.entries(result) as [keyof TaskResult, unknown][]) {
    if (value !== undefined) (state.result as Record<string, unknown>)[key] = value;
  }
}

/**
 * Records a callback. A body already seen, a phase the state is already past, or anything after
 * the task settled is a duplicate: recorded as such, and it changes nothing else.
 * @returns whether it was a duplicate
 */
export function recordCallback(state: TaskState, { callback, receipt }: CallbackSignal): boolean {
  const phase = callback.phase;
  const phaseStatus = PHASE_STATUS[phase];
  const duplicate =
    state.seenBodies.includes(receipt.bodyHash) ||
    isSettled(state) ||
    (phaseStatus !== undefined && progressRank(state.status) >= progressRank(phaseStatus));

  const counts = state.receiptCounts;
  counts.total += 1;
  counts.byPhase[phase] = (counts.byPhase[phase] ?? 0) + 1;
  if (duplicate) counts.duplicates += 1;
  state.receipts.push({
    callbackType: phase,
    receivedAt: receipt.receivedAt,
    duplicate,
  });
  trimReceipts(state, phase);
  state.updatedAt = receipt.receivedAt;
  if (duplicate) return true;

  state.seenBodies.push(receipt.bodyHash);
  if (state.seenBodies.length > BODY_HASHES_KEPT) state.seenBodies.shift();
  state.heardFromProvider = true;
  if (phaseStatus) {
    advance(state, phaseStatus);
  } else {
    // complete / error: a hint only; the result is taken from the confirming query.
    state.confirmationWanted = true;
  }
  return false;
}

function trimReceipts(state: TaskState, phase: CallbackPhase): void {
  const ofPhase = state.receipts.filter((receipt) => receipt.callbackType === phase);
  if (ofPhase.length <= RECEIPTS_KEPT_PER_PHASE) return;
  const oldest = ofPhase[0];
  state.receipts.splice(state.receipts.indexOf(oldest!), 1);
}

/**
 * Applies a query answer: the provider's word is the truth, but the state still never moves
 * backwards. `SUCCESS` counts only with a finished result.
 */
export function applySnapshot(
  state: TaskState,
  snapshot: ProviderSnapshot,
  reason: PollRecord['reason'],
  at: string,
  finished: boolean,
): void {
  recordPoll(state, { at, reason, status: snapshot.status });
  state.notFoundPolls = 0;
  if (isSettled(state)) return;
  if (snapshot.failed) {
    state.status = snapshot.status;
    state.error = snapshot.error ?? { code: snapshot.status, message: snapshot.status };
    state.result = { ...state.result, ...snapshot.result };
    return;
  }
  if (snapshot.status === SUCCESS_STATUS && !finished) return;
  if (snapshot.status === SUCCESS_STATUS) {
    // The files of a finished task come from this answer alone, never from what came before.
    if (advance(state, snapshot.status)) state.result = { ...snapshot.result };
    return;
  }
  if (advance(state, snapshot.status) || snapshot.status === state.status)
    mergeResult(state, snapshot.result);
}

/**
 * Records that the provider does not know the task; after {@link NOT_FOUND_LIMIT} answers in a
 * row it is believed, and the task fails as `ProviderTaskNotFound`.
 */
export function recordProviderNotFound(state: TaskState): void {
  state.notFoundPolls += 1;
  if (state.notFoundPolls < NOT_FOUND_LIMIT || isSettled(state)) return;
  state.status = 'CREATE_TASK_FAILED';
  state.error = {
    code: 'ProviderTaskNotFound',
    message: `the provider does not know task ${state.taskId} (${NOT_FOUND_LIMIT} answers in a row): check the id and its kind`,
  };
}

/** The "unknown task" notice of a running task, while the provider has not been believed yet. */
function notFoundNotice(state: TaskState): ProviderFailure | undefined {
  if (state.notFoundPolls === 0 || isSettled(state)) return undefined;
  return {
    code: 'ProviderTaskNotFound',
    message: `the provider does not know task ${state.taskId} (${state.notFoundPolls} of ${NOT_FOUND_LIMIT} answers); tracking stops after ${NOT_FOUND_LIMIT}: check the id and its kind`,
  };
}

/** The task's deadline passed before it settled. */
export function recordTimedOut(state: TaskState, taskDeadlineMs: number, at: string): void {
  state.status = TIMED_OUT;
  state.error = { code: TIMED_OUT, message: `not finished within ${taskDeadlineMs} ms of submission` };
  state.nextPollAt = undefined;
  state.updatedAt = at;
}

/** Tracking was cancelled: a task already ready stays as it was, any other is CANCELLED. */
export function recordCancelled(state: TaskState, at: string): void {
  if (!state.ready) {
    state.status = CANCELLED;
    state.error = undefined;
  }
  state.updatedAt = at;
}

/**
 * What arrived since the task last waited: whether a callback asks for a confirming query, and
 * whether the provider was heard at all (polling then backs off from the start again). Both are
 * taken: the next wait starts with no news.
 */
export function takeNews(state: TaskState): { confirm: boolean; heard: boolean } {
  const news = { confirm: state.confirmationWanted, heard: state.heardFromProvider };
  state.confirmationWanted = false;
  state.heardFromProvider = false;
  return news;
}

export function recordPoll(state: TaskState, poll: PollRecord): void {
  state.pollCount += 1;
  state.polls.push(poll);
  if (state.polls.length > POLLS_KEPT) state.polls.shift();
  state.updatedAt = poll.at;
}

export function toView(state: TaskState, workflowId: string): TaskView {
  return {
    taskId: state.taskId,
    workflowId,
    kind: state.kind,
    ...(state.summary ? { summary: state.summary } : {}),
    status: state.status,
    ready: state.ready,
    submittedAt: state.submittedAt,
    updatedAt: state.updatedAt,
    assets: state.assets,
    ...(state.result.lyrics ? { lyrics: state.result.lyrics } : {}),
    receipts: state.receipts,
    receiptCounts: state.receiptCounts,
    polls: state.polls,
    pollCount: state.pollCount,
    ...(state.nextPollAt && !isSettled(state) ? { nextPollAt: state.nextPollAt } : {}),
    ...(state.providerCall ? { providerCall: state.providerCall } : {}),
    ...(state.error ? { error: state.error } : {}),
    ...(notFoundNotice(state) ? { notice: notFoundNotice(state) } : {}),
    ...(state.notification ? { notification: state.notification } : {}),
  };
}

/** The short markdown timeline shown as the workflow's current details in the Temporal UI. */
export function describeProgress(state: TaskState): string {
  const counts = state.receiptCounts;
  const phases = Object.entries(counts.byPhase)
    .map(([phase, count]) => `${phase} ×${count}`)
    .join(', ');
  // The UI shows a few lines only, beside the summary: start with what changes.
  const lines = [
    `- status: **${state.status}**${state.ready ? ' (ready)' : ''}`,
    `- callbacks: ${counts.total} (${counts.duplicates} duplicate)${phases ? ` — ${phases}` : ''}`,
    `- polls: ${state.pollCount}${state.polls.length ? `, last ${state.polls.at(-1)!.at} → ${state.polls.at(-1)!.status ?? state.polls.at(-1)!.error}` : ''}`,
  ];
  if (state.providerCall) {
    lines.push(
      `- waiting for the provider's rate budget: ${state.providerCall.purpose} queued at ${state.providerCall.queuedAt}`,
    );
  } else if (state.nextPollAt && !isSettled(state)) lines.push(`- next poll: ${state.nextPollAt}`);
  if (state.assets.length) {
    const bytes = state.assets.reduce((sum, asset) => sum + asset.bytes, 0);
    lines.push(`- assets stored: ${state.assets.length} (${bytes} bytes)`);
  }
  if (state.error) lines.push(`- error: \`${state.error.code}\` ${state.error.message}`);
  const notice = notFoundNotice(state);
  if (notice) lines.push(`- notice: \`${notice.code}\` ${notice.message}`);
  if (state.notification) lines.push(describeNotification(state.notification));
  return lines.join('\n');
}

function describeNotification(notification: NotificationRecord): string {
  const line = `- notification \`${notification.event}\` to ${notification.url}: **${notification.status}**`;
  return notification.error ? `${line} — \`${notification.error.code}\` ${notification.error.message}` : line;
}
