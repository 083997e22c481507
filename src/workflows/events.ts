/**
 * The task's event log, kept in workflow state: one event for each change a user cares about, each
 * with a sequence number that only grows (across continue-as-new too: the log travels in the
 * state). The API streams it (`GET /v1/tasks/:taskId/events`, `GET /v1/events`) by the query
 * `events`; the search attributes `MusicTaskEventAt` and `MusicTaskEventSeq` say when the newest
 * event was recorded, so one visibility query finds every task that changed since a moment.
 *
 * Pure and deterministic like `state.ts`, apart from the idle publisher (a workflow coroutine).
 */
import { CancellationScope, condition, defineQuery } from '@temporalio/workflow';
import type { CallbackPhase, ProviderFailure } from '../provider/types.ts';
import {
  EVENT_ASSETS_LISTED,
  EVENT_MESSAGE_CHARS,
  EVENTS_KEPT,
  TERMINAL_EVENT_TYPES,
  type EventAsset,
  type EventLog,
  type EventsPage,
  type TaskEvent,
  type TaskEventType,
} from './eventTypes.ts';
import { CANCELLED, TIMED_OUT, type StoredAsset, type TaskState } from './state.ts';

export * from './eventTypes.ts';

export const eventsQuery = defineQuery<EventsPage, [number]>('events');

export function isTerminalEvent(type: string): boolean {
  return (TERMINAL_EVENT_TYPES as readonly string[]).includes(type);
}

function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

function clipFailure(error: ProviderFailure): ProviderFailure {
  return { code: clip(String(error.code), 100), message: clip(String(error.message), EVENT_MESSAGE_CHARS) };
}

function logOf(state: TaskState): EventLog {
  state.log ??= { seq: 0, events: [], status: state.status, publishedSeq: 0, ended: false };
  return state.log;
}

/** Records one event, stamped with where the task now stands. */
export function recordEvent(
  state: TaskState,
  type: TaskEventType,
  fields: Partial<Omit<TaskEvent, 'seq' | 'at' | 'type'>> = {},
): TaskEvent {
  const log = logOf(state);
  const event: TaskEvent = {
    seq: log.seq + 1,
    at: new Date().toISOString(),
    type,
    status: state.status,
    ready: state.ready,
    callbacks: state.receiptCounts.total,
    duplicates: state.receiptCounts.duplicates,
    polls: state.pollCount,
    ...(state.providerCall ? { providerCall: { ...state.providerCall } } : {}),
    ...fields,
  };
  log.seq = event.seq;
  log.events.push(event);
  if (log.events.length > EVENTS_KEPT) log.events.splice(0, log.events.length - EVENTS_KEPT);
  if (isTerminalEvent(type)) log.ended = true;
  return event;
}

/**
 * Starts the log: a new task's first event is `tracking`. A state carried over from a run without
 * a log (continue-as-new of an older run) starts its log where it stands.
 */
export function startEventLog(state: TaskState): void {
  if (state.log) return;
  logOf(state);
  recordEvent(state, 'tracking', state.summary ? { summary: clip(state.summary, 200) } : {});
}

/** A `status` event when the status moved since the log last said. */
export function noteStatus(state: TaskState): void {
  const log = logOf(state);
  if (state.status === log.status) return;
  const previous = log.status;
  log.status = state.status;
  recordEvent(state, 'status', { previous });
}

export function recordCallbackEvent(state: TaskState, phase: CallbackPhase, duplicate: boolean): void {
  recordEvent(state, 'callback', { phase, duplicate });
  noteStatus(state);
}

/** A provider call joined the provider queue: the task now waits for the fleet's budget. */
export function recordProviderCallEvent(state: TaskState): void {
  if (state.providerCall) recordEvent(state, 'provider_call', { purpose: state.providerCall.purpose });
}

/** The newest poll record as an event (call after the call's `providerCall` was cleared). */
export function recordPollEvent(state: TaskState): void {
  const poll = state.polls.at(-1);
  if (!poll) return;
  recordEvent(state, 'poll', {
    reason: poll.reason,
    ...(poll.status ? { answer: poll.status } : {}),
    ...(poll.error ? { error: clipFailure({ code: poll.error, message: poll.error }) } : {}),
  });
  noteStatus(state);
}

function eventAsset(asset: StoredAsset): EventAsset {
  return {
    id: asset.id,
    type: asset.type,
    name: asset.name,
    ...(asset.trackId ? { trackId: asset.trackId } : {}),
    bytes: asset.bytes,
    ...(asset.contentType ? { contentType: asset.contentType } : {}),
    ...(asset.durationSeconds !== undefined ? { durationSeconds: asset.durationSeconds } : {}),
  };
}

/**
 * The end of the task, once: `assets` and `ready` for a ready task, else `cancelled`, `timed_out`
 * or `failed` (with the error). Nothing is recorded after it.
 */
export function recordEnd(state: TaskState): void {
  const log = logOf(state);
  noteStatus(state);
  if (log.ended) return;
  if (state.ready) {
    if (state.assets.length) {
      recordEvent(state, 'assets', {
        assets: state.assets.slice(0, EVENT_ASSETS_LISTED).map(eventAsset),
        assetCount: state.assets.length,
        bytes: state.assets.reduce((sum, asset) => sum + asset.bytes, 0),
      });
    }
    recordEvent(state, 'ready');
    return;
  }
  if (state.status === CANCELLED) {
    recordEvent(state, 'cancelled');
    return;
  }
  const error = state.error ? clipFailure(state.error) : { code: state.status, message: state.status };
  recordEvent(state, state.status === TIMED_OUT ? 'timed_out' : 'failed', { error });
}

/** The events after `afterSeq`, for the query `events`. */
export function eventsAfter(state: TaskState, afterSeq: unknown): EventsPage {
  const log = logOf(state);
  const after = typeof afterSeq === 'number' && Number.isFinite(afterSeq) ? afterSeq : 0;
  return {
    events: log.events.filter((event) => event.seq > after),
    lastSeq: log.seq,
    firstSeq: log.events[0]?.seq ?? 0,
    ended: log.ended,
  };
}

/** Events recorded since the search attributes last said. */
export function unpublished(state: TaskState): boolean {
  const log = logOf(state);
  return log.seq > log.publishedSeq;
}

/** The newest event's time (epoch ms) and sequence number, marked as published. */
export function takeEventAttributes(state: TaskState): { at: number; seq: number } {
  const log = logOf(state);
  log.publishedSeq = log.seq;
  const newest = log.events.at(-1);
  return { at: newest ? Date.parse(newest.at) : 0, seq: log.seq };
}

/**
 * Publishes events recorded while the workflow's main line waits (a duplicate callback wakes
 * nothing else), so the search attributes follow without a second upsert in the same workflow
 * task: it stands back whenever `mainWakes` says the main line is about to run (and publish) itself.
 */
export function startIdlePublisher(state: TaskState, publish: () => void, mainWakes: () => boolean): void {
  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(() => unpublished(state) && !mainWakes());
      publish();
    }
  }).catch(() => undefined);
}
