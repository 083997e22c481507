import type { TaskKind } from '../../src/provider/kinds.ts';

/** Raised when the API refuses a submission for good (a 4xx): under chaos that is a bug. */
export class SubmissionRefused extends Error {
  override readonly name = 'SubmissionRefused';
}

export interface Submitted {
  n: number;
  kind: TaskKind;
  idempotencyKey: string;
  taskId: string;
  /** Requests it took: more than 1 when the server, the worker or Temporal was down. */
  attempts: number;
}

/** Reads a queued submission until it has its task id; undefined when the deadline came first. */
export async function waitForTaskId(
  apiUrl: string,
  idempotencyKey: string,
  deadline: number,
): Promise<string | undefined> {
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${apiUrl}/v1/submissions/${encodeURIComponent(idempotencyKey)}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await response.json().catch(() => ({}))) as { taskId?: string; status?: string };
      if (body.taskId) return body.taskId;
      if (response.status === 200 && body.status !== 'QUEUED') {
        throw new SubmissionRefused(`submission ${idempotencyKey}: ${JSON.stringify(body)}`);
      }
    } catch (error) {
      if (error instanceof SubmissionRefused) throw error;
      // the server is down for a moment: ask again
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return undefined;
}

/**
 * `POST /v1/tasks` as a careful client does it: one idempotency key, retried while the server is
 * unreachable or answers 5xx, and read back through `GET /v1/submissions/:key` while it is queued
 * behind the provider budget, so the provider is asked once.
 */
export async function submitUntilAccepted(
  apiUrl: string,
  submission: { n: number; kind: TaskKind; input: Record<string, unknown>; idempotencyKey: string },
  giveUpAfterMs: number,
): Promise<Submitted> {
  const deadline = Date.now() + giveUpAfterMs;
  let last = '';
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    try {
      const response = await fetch(`${apiUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: submission.kind,
          input: submission.input,
          idempotencyKey: submission.idempotencyKey,
        }),
        signal: AbortSignal.timeout(90_000),
      });
      const body = (await response.json().catch(() => ({}))) as { taskId?: string; status?: string };
      if (response.status === 202 && body.taskId) {
        return { ...submission, taskId: body.taskId, attempts: attempt };
      }
      if (response.status === 202 && body.status === 'QUEUED') {
        // Durably queued behind the provider budget: its task id comes later.
        const taskId = await waitForTaskId(apiUrl, submission.idempotencyKey, deadline);
        if (taskId) return { ...submission, taskId, attempts: attempt };
      }
      last = `HTTP ${response.status} ${JSON.stringify(body)}`;
      if (response.status < 500) throw new SubmissionRefused(`submission ${submission.n}: ${last}`);
    } catch (error) {
      if (error instanceof SubmissionRefused) throw error;
      last =
        error instanceof Error
          ? `${error.message} ${error.cause instanceof Error ? error.cause.message : ''}`
          : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2_000)));
  }
  throw new SubmissionRefused(
    `submission ${submission.n} not accepted in ${giveUpAfterMs} ms; last: ${last}`,
  );
}
