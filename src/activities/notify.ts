/**
 * Delivers a task's terminal event to the app: one signed POST per attempt, under the fetch
 * policy. Temporal retries it on its long schedule; only a 2xx ends it.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { describeUrl, FetchPolicyError, type FetchPolicy } from '../fetchPolicy/index.ts';
import { NOTIFY_REFUSED, NOTIFY_REJECTED, NOTIFY_UNREACHABLE } from '../notifications/events.ts';
import { withAbsoluteUrls, type NotificationPayload } from '../notifications/payload.ts';

/** What is read of an answer: enough for a log line, never a whole page. */
export const NOTIFY_ANSWER_BYTES = 1024;

export interface NotifyDeps {
  policy: FetchPolicy;
  /** The `whsec_…` signing secret (NOTIFY_SECRET). */
  secret: string;
  /** One attempt, connect to last byte read. */
  timeoutMs: number;
  /** PUBLIC_BASE_URL when the deployment sets it: assets then carry absolute URLs too. */
  publicBaseUrl?: string;
  /** The clock the signature's timestamp comes from (tests pin it). */
  now?: () => Date;
}

export interface NotificationDelivery {
  url: string;
  webhookId: string;
  payload: NotificationPayload;
}

/** Signed headers of one attempt: the timestamp is the attempt's own, so a late retry still verifies. */
export function signedHeaders(
  webhook: Webhook,
  webhookId: string,
  body: string,
  at: Date,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': webhook.sign(webhookId, at, body),
  };
}

export function createNotifyActivities(deps: NotifyDeps) {
  const webhook = new Webhook(deps.secret);
  return {
    /**
     * POSTs the event once. A 2xx ends it; any other answer, an unreachable or silent receiver
     * fails this attempt (retried); the policy's refusal fails it for good (`NotifyRefused`).
     */
    deliverNotification: async (
      delivery: NotificationDelivery,
    ): Promise<{ status: number; attempt: number }> => {
      const context = Context.current();
      const attempt = context.info.attempt;
      const body = JSON.stringify(withAbsoluteUrls(delivery.payload, deps.publicBaseUrl));
      const shown = describeUrl(delivery.url);
      const timeout = AbortSignal.timeout(deps.timeoutMs);
      const signal = AbortSignal.any([timeout, context.cancellationSignal]);
      // A schedule-to-close timeout reports the last heartbeat, not the last failure: keep the answer there.
      const lastAnswer = (message: string) => context.heartbeat({ lastAnswer: message });
      let status: number;
      try {
        const answer = await deps.policy.post(delivery.url, body, {
          headers: signedHeaders(webhook, delivery.webhookId, body, deps.now?.() ?? new Date()),
          signal,
          maxAnswerBytes: NOTIFY_ANSWER_BYTES,
        });
        status = answer.status;
      } catch (error) {
        if (error instanceof FetchPolicyError && error.kind === 'refused') {
          throw ApplicationFailure.create({
            type: NOTIFY_REFUSED,
            message: error.message,
            nonRetryable: true,
          });
        }
        if (context.cancellationSignal.aborted && !timeout.aborted) throw error;
        const message = timeout.aborted
          ? `${shown} did not answer within ${deps.timeoutMs} ms`
          : error instanceof Error
            ? error.message
            : String(error);
        lastAnswer(message);
        throw ApplicationFailure.create({ type: NOTIFY_UNREACHABLE, message, cause: error as Error });
      }
      if (status < 200 || status >= 300) {
        // Redirects are not followed: the app gives the URL that takes the event.
        const message = `${shown} answered HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`;
        lastAnswer(message);
        throw ApplicationFailure.create({ type: NOTIFY_REJECTED, message });
      }
      context.log.info('notification delivered', {
        webhookId: delivery.webhookId,
        event: delivery.payload.type,
        status,
        attempt,
      });
      return { status, attempt };
    },
  };
}

export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
