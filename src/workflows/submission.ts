import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { createActivities } from '../activities/index.ts';
import { CALL_PRIORITY } from '../temporal/callPriority.ts';
import type { SubmissionInput, SubmissionOutcome } from './definitions.ts';
import { idempotencyKeyOf, musicTaskWorkflowId, SUBMIT_DEADLINE_EXCEEDED } from './definitions.ts';
import { submissionNonce } from './callbackNonce.ts';
import { keepEarlyCallbacks } from './earlyCallbacks.ts';

type Activities = ReturnType<typeof createActivities>;

const { submitToProvider } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  // A rate limit or an outage is back-pressure: retried (after Retry-After) until the deadline.
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
  },
  priority: { priorityKey: CALL_PRIORITY.submit },
  summary: 'submit to the provider',
});

// A local activity: one start (or join) of the task's workflow, done inside the workflow task that
// read the provider's answer; the submission completes in that same task. A regular activity would
// cost two more workflow tasks and four more history writes per submission, on the path to `ready`.
const { trackTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  // Back-offs past this become durable timers: a Temporal that refuses the start never holds a
  // workflow task open.
  localRetryThreshold: '2s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

/**
 * One queued submission: it waits in the provider queue for the fleet's budget, is sent, and its
 * task is handed to its musicTask workflow. The provider's task id is in this history before
 * anyone is told of it, so it cannot be lost; the id comes from the client's idempotency key, so a
 * retried request costs the provider nothing. A submission the provider refuses for good completes
 * with the provider's error (the same key then answers that error again); one not sent by
 * `SUBMIT_DEADLINE` fails, and the same key may then be asked again.
 */
export async function submitMusicTask(input: SubmissionInput): Promise<SubmissionOutcome> {
  // Callbacks that beat the submit answer wait here until the task is tracked.
  const early = keepEarlyCallbacks();
  // The callback URL proves this submission only; its nonce names the submission's workflow.
  const callbackNonce = submissionNonce(idempotencyKeyOf(workflowInfo().workflowId));
  const deadline = Date.parse(input.queuedAt) + input.submitDeadlineMs;
  let sent: { taskId: string; submittedAt: string };
  try {
    sent = await submitToProvider.executeWithOptions(
      {
        startToCloseTimeout: '30s',
        taskQueue: input.tracking.providerTaskQueue,
        scheduleToCloseTimeout: Math.max(1_000, deadline - Date.now()),
      },
      [{ kind: input.kind, input: input.input, callbackNonce }],
    );
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.nonRetryable) {
      const detail = (cause.details?.[0] ?? {}) as { providerCode?: number | null };
      return {
        status: 'REJECTED',
        kind: input.kind,
        error: {
          type: cause.type ?? 'ProviderRejected',
          message: cause.message,
          providerCode: detail.providerCode ?? null,
        },
      };
    }
    // The deadline ends the retries: the cause is then the timeout, or the last attempt's failure.
    if (
      error instanceof ActivityFailure &&
      (cause instanceof TimeoutFailure || error.retryState === RetryState.TIMEOUT)
    ) {
      const lastFailure = cause instanceof TimeoutFailure ? cause.cause : cause;
      const last = lastFailure instanceof ApplicationFailure ? `; last answer: ${lastFailure.message}` : '';
      throw ApplicationFailure.create({
        type: SUBMIT_DEADLINE_EXCEEDED,
        message: `not sent to the provider within SUBMIT_DEADLINE (${input.submitDeadlineMs} ms)${last}; submit again with the same idempotencyKey to retry`,
        nonRetryable: true,
      });
    }
    throw error;
  }
  await trackTask({
    taskId: sent.taskId,
    kind: input.kind,
    submittedAt: sent.submittedAt,
    ...(input.summary ? { summary: input.summary } : {}),
    ...input.tracking,
    callbackNonce,
  });
  await early.handOn(sent.taskId);
  return {
    status: 'SUBMITTED',
    taskId: sent.taskId,
    workflowId: musicTaskWorkflowId(sent.taskId),
    kind: input.kind,
    submittedAt: sent.submittedAt,
  };
}
