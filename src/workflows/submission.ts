import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import { NON_RETRYABLE_PROVIDER_ERRORS } from '../provider/errors.ts';
import type { SubmissionInput, SubmissionResult } from './definitions.ts';
import { idempotencyKeyOf, musicTaskWorkflowId } from './definitions.ts';
import { submissionNonce } from './callbackNonce.ts';
import { keepEarlyCallbacks } from './earlyCallbacks.ts';

type Activities = ReturnType<typeof createActivities>;

const { submitToProvider } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  // A submit the provider refuses for good fails at once; rate limits and outages are retried.
  scheduleToCloseTimeout: '3m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 8,
    nonRetryableErrorTypes: [...NON_RETRYABLE_PROVIDER_ERRORS],
  },
});

const { trackTask } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

/**
 * Submits one task to the provider and hands it to its musicTask workflow. The provider's task id
 * is in this workflow's history before the API answers, so it cannot be lost; its id is derived
 * from the client's idempotency key, so a retried request costs the provider nothing.
 */
export async function submitMusicTask(input: SubmissionInput): Promise<SubmissionResult> {
  const early = keepEarlyCallbacks();
  // The callback URL proves this submission only; its nonce names the submission's workflow.
  const callbackNonce = submissionNonce(idempotencyKeyOf(workflowInfo().workflowId));
  const { taskId, submittedAt } = await submitToProvider({
    kind: input.kind,
    input: input.input,
    callbackNonce,
  });
  await trackTask({
    taskId,
    kind: input.kind,
    submittedAt,
    ...(input.summary ? { summary: input.summary } : {}),
    ...input.tracking,
    callbackNonce,
  });
  await early.handOn(taskId);
  return { taskId, workflowId: musicTaskWorkflowId(taskId), kind: input.kind, submittedAt };
}
