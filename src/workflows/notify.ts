import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  log,
  proxyActivities,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { NotifyActivities } from '../activities/index.ts';
import {
  NOTIFY_GIVEN_UP,
  NOTIFY_REFUSED,
  shownUrl,
  terminalEvent,
  webhookIdFor,
  type NotifyTarget,
} from '../notifications/events.ts';
import { notificationPayload } from '../notifications/payload.ts';
import type { ProviderFailure } from '../provider/types.ts';
import { toView, type TaskState } from './state.ts';

/** Why the delivery was given up, from the activity's final failure; undefined for anything else. */
function givenUp(error: unknown, target: NotifyTarget): ProviderFailure | undefined {
  if (!(error instanceof ActivityFailure)) return undefined;
  const cause = error.cause;
  if (cause instanceof ApplicationFailure && cause.type === NOTIFY_REFUSED) {
    return { code: NOTIFY_REFUSED, message: cause.message };
  }
  // Out of time: the last attempt's failure, or the timeout with the answer it heartbeated.
  const last =
    cause instanceof TimeoutFailure
      ? (cause.cause?.message ??
        (cause.lastHeartbeatDetails as { lastAnswer?: string } | undefined)?.lastAnswer)
      : cause?.message;
  return {
    code: NOTIFY_GIVEN_UP,
    message: `no 2xx within ${Math.round(target.retry.giveUpAfterMs / 1000)} s${last ? `; last attempt: ${last}` : ''}`,
  };
}

/**
 * Delivers the settled task's terminal event to the app, retried on the long schedule until a 2xx,
 * and records the outcome on the task. Not cancellable: a cancelled task still tells the app.
 * @param publish shows the recorded outcome (search attributes, current details)
 */
export async function notifyApp(
  state: TaskState,
  target: NotifyTarget,
  workflowId: string,
  publish: () => void,
): Promise<void> {
  const event = terminalEvent(state);
  const webhookId = webhookIdFor(state.taskId, event);
  const record = { event, webhookId, url: shownUrl(target.url) };
  state.notification = { ...record, status: 'delivering' };
  publish();
  const { retry } = target;
  const { deliverNotification } = proxyActivities<NotifyActivities>({
    // The activity stops an attempt at NOTIFY_TIMEOUT itself; this only catches a lost worker.
    startToCloseTimeout: retry.attemptTimeoutMs + 30_000,
    scheduleToCloseTimeout: retry.giveUpAfterMs,
    retry: {
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: retry.maximumIntervalMs,
      nonRetryableErrorTypes: [NOTIFY_REFUSED],
    },
    summary: `notify the app: ${event}`,
  });
  const payload = notificationPayload(event, state.updatedAt, toView(state, workflowId));
  try {
    await CancellationScope.nonCancellable(() =>
      deliverNotification({ url: target.url, webhookId, payload }),
    );
    state.notification = { ...record, status: 'delivered', deliveredAt: new Date().toISOString() };
  } catch (error) {
    const failure = givenUp(error, target);
    if (!failure) throw error;
    log.warn('notification given up', { taskId: state.taskId, event, code: failure.code });
    state.notification = { ...record, status: 'failed', error: failure };
  }
  publish();
}
