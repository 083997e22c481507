/**
 * What a notification to the app is, shared by the workflow (which decides which event a task
 * ends with), the activity (which delivers it) and the API (which takes `notifyUrl`). Pure: no
 * I/O, safe in the workflow sandbox.
 */
import { defineSignal } from '@temporalio/workflow';
import type { ProviderFailure } from '../provider/types.ts';

export const NOTIFICATION_EVENTS = ['task.ready', 'task.failed', 'task.timed_out', 'task.cancelled'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** Failure types of a delivery: a refusal by the fetch policy never retries. */
export const NOTIFY_REFUSED = 'NotifyRefused';
export const NOTIFY_UNREACHABLE = 'NotifyUnreachable';
export const NOTIFY_REJECTED = 'NotifyRejected';
/** Recorded on the task when no attempt got a 2xx within `NOTIFY_RETRY_FOR`. */
export const NOTIFY_GIVEN_UP = 'NotifyGivenUp';

/** How long a delivery keeps being retried (configured: `NOTIFY_TIMEOUT`, `NOTIFY_RETRY_*`). */
export interface NotifyRetry {
  /** One attempt, connect to answer. */
  attemptTimeoutMs: number;
  initialIntervalMs: number;
  maximumIntervalMs: number;
  /** After this long without a 2xx the delivery is given up and recorded as failed. */
  giveUpAfterMs: number;
}

/** Where a task's terminal event goes: the task's own `notifyUrl`, or the deployment's `NOTIFY_URL`. */
export interface NotifyTarget {
  url: string;
  retry: NotifyRetry;
}

/** What the task records of its notification: shown in its view and in the Temporal UI. */
export interface NotificationRecord {
  event: NotificationEvent;
  /** The `webhook-id` every attempt carries. */
  webhookId: string;
  /** The target without its query string (it may carry the app's own token). */
  url: string;
  status: 'delivering' | 'delivered' | 'failed';
  deliveredAt?: string;
  /** Why it was given up: the last attempt's answer, or the policy's refusal. */
  error?: ProviderFailure;
}

/** Gives a task (started, or already tracked) the URL its terminal event goes to. */
export const notifyTargetSignal = defineSignal<[NotifyTarget]>('notifyTarget');

/**
 * The `webhook-id` of a task's event: the same on every attempt, and the same whichever worker
 * sends it, so the app can drop a delivery it already processed.
 */
export function webhookIdFor(taskId: string, event: NotificationEvent): string {
  return `msg_${taskId}_${event.slice('task.'.length)}`;
}

/** The event a settled task ends with. */
export function terminalEvent(task: { ready: boolean; status: string }): NotificationEvent {
  if (task.ready) return 'task.ready';
  if (task.status === 'TIMED_OUT') return 'task.timed_out';
  if (task.status === 'CANCELLED') return 'task.cancelled';
  return 'task.failed';
}

/**
 * A URL as the task records it: without credentials, query or fragment. String work only (the
 * workflow sandbox runs it).
 */
export function shownUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1').split(/[?#]/)[0]!;
}
