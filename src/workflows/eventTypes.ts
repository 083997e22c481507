/**
 * The shapes of a task's event log (see `events.ts`), apart so that `state.ts` can name the log
 * without importing the code that writes it.
 */
import type { CallbackPhase, ProviderFailure } from '../provider/types.ts';

/** Events kept in the workflow state; older ones are dropped (their sequence numbers stay used). */
export const EVENTS_KEPT = 100;
/** Stored files listed in an `assets` event; the rest are counted. */
export const EVENT_ASSETS_LISTED = 20;
/** Longest error message carried by an event. */
export const EVENT_MESSAGE_CHARS = 500;

export const TERMINAL_EVENT_TYPES = ['ready', 'failed', 'timed_out', 'cancelled'] as const;
export const TASK_EVENT_TYPES = [
  'tracking',
  'status',
  'callback',
  'provider_call',
  'poll',
  'assets',
  ...TERMINAL_EVENT_TYPES,
] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

/** A stored file as an `assets` event names it (the API adds its `url`). */
export interface EventAsset {
  id: string;
  type: string;
  name: string;
  trackId?: string;
  bytes: number;
  contentType?: string;
  durationSeconds?: number;
  url?: string;
}

/**
 * One change of the task. Every event also says where the task stands after it (status, ready,
 * callbacks, duplicates, polls, the provider call it waits for), so a client can draw the task
 * from its latest event alone.
 */
export interface TaskEvent {
  /** 1, 2, 3, … for the task's whole life; the SSE `id:` of the per-task stream. */
  seq: number;
  /** When the workflow recorded it (workflow time, ISO). */
  at: string;
  type: TaskEventType;
  status: string;
  ready: boolean;
  callbacks: number;
  duplicates: number;
  polls: number;
  /** Set while a provider call waits for the fleet's budget or its answer. */
  providerCall?: { purpose: 'confirm' | 'poll'; queuedAt: string };
  /** `tracking`: the title or prompt. */
  summary?: string;
  /** `status`: the status before. */
  previous?: string;
  /** `callback`: its phase and whether it was a duplicate. */
  phase?: CallbackPhase;
  duplicate?: boolean;
  /** `provider_call`: why it is asked. */
  purpose?: 'confirm' | 'poll';
  /** `poll`: why, and what the provider answered (a status) or why it did not. */
  reason?: 'timer' | 'confirm';
  answer?: string;
  /** `poll` that failed, `failed`, `timed_out`: what went wrong. */
  error?: ProviderFailure;
  /** `assets`: the files stored (at most {@link EVENT_ASSETS_LISTED}), how many and their bytes. */
  assets?: EventAsset[];
  assetCount?: number;
  bytes?: number;
}

export interface EventLog {
  /** Sequence number of the newest event (0: none yet). */
  seq: number;
  /** The newest {@link EVENTS_KEPT} events, oldest first. */
  events: TaskEvent[];
  /** The status the log last reported: a `status` event is recorded when the state's differs. */
  status: string;
  /** Newest sequence number written to the search attributes. */
  publishedSeq: number;
  /** A terminal event was recorded: nothing follows it. */
  ended: boolean;
}

/** What the query `events` answers: the events after a sequence number, and where the log stands. */
export interface EventsPage {
  events: TaskEvent[];
  /** Sequence number of the newest event. */
  lastSeq: number;
  /** Sequence number of the oldest event kept (0 when there is none). */
  firstSeq: number;
  /** The terminal event has been recorded: the stream may end after it. */
  ended: boolean;
}
