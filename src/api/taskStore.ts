import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { FastifyBaseLogger } from 'fastify';
import type { TaskKind } from '../provider/kinds.ts';
import { startTracking, type TrackingSettings } from '../temporal/tasks.ts';
import {
  MUSIC_TASK_WORKFLOW,
  musicTaskWorkflowId,
  MusicTaskKindKey,
  MusicTaskReadyKey,
  MusicTaskStatusKey,
  statusQuery,
  SUBMISSION_WORKFLOW,
  submissionWorkflowId,
  type SubmissionOutcome,
  type SubmissionRejected,
  type SubmissionResult,
} from '../workflows/definitions.ts';
import { SUBMIT_DEADLINE_EXCEEDED } from '../workflows/submission.ts';
import { CANCELLED as CANCELLED_STATUS, type TaskView } from '../workflows/state.ts';
import type { submitMusicTask } from '../workflows/submission.ts';
import { HttpError } from '../httpErrors.ts';

/** How long `GET /v1/tasks/:taskId` waits for a worker to answer the status query. */
const QUERY_DEADLINE_MS = 5_000;

/** A task tracked by id is asked about at once: an id the provider does not know shows in seconds. */
const FIRST_POLL_OF_TRACKED_MS = 1_000;

/** Provider failure types as HTTP answers: the provider's code and message are kept. */
const SUBMIT_FAILURES: Record<string, { status: number; code: string }> = {
  ProviderRejected: { status: 422, code: 'provider_rejected' },
  ProviderAuthFailed: { status: 502, code: 'provider_auth_failed' },
  ProviderQuotaExhausted: { status: 429, code: 'provider_quota_exhausted' },
  [SUBMIT_DEADLINE_EXCEEDED]: { status: 503, code: 'submit_deadline_exceeded' },
};

/** A submission the provider refused for good, as the HTTP error it answers. */
export function rejectionError(rejected: SubmissionRejected): HttpError {
  const { status, code } = SUBMIT_FAILURES[rejected.error.type] ?? SUBMIT_FAILURES.ProviderRejected!;
  return new HttpError(status, code, rejected.error.message, {
    providerCode: rejected.error.providerCode,
    providerMessage: rejected.error.message,
  });
}

/** A submission workflow that failed (its deadline passed, or it was terminated), as an error body. */
function failureOf(error: WorkflowFailedError): { error: string; message: string } {
  const cause = error.cause;
  if (cause instanceof ApplicationFailure && cause.type === SUBMIT_DEADLINE_EXCEEDED) {
    return { error: 'submit_deadline_exceeded', message: cause.message };
  }
  return {
    error: 'submission_failed',
    message: `the submission did not complete: ${cause?.message ?? error.message}`,
  };
}

/** What `POST /v1/tasks` and `GET /v1/submissions/:key` say of a submission. */
export type SubmissionView =
  | (SubmissionResult & { idempotencyKey: string })
  | {
      idempotencyKey: string;
      status: 'QUEUED';
      kind: TaskKind;
      queuedAt: string;
      /** Sends tried so far (each waited for the provider budget). */
      attempts: number;
      lastError?: string;
    }
  | SubmissionEnded<'REJECTED'>
  | SubmissionEnded<'FAILED'>;

interface SubmissionEnded<Status extends 'REJECTED' | 'FAILED'> {
  idempotencyKey: string;
  status: Status;
  kind: TaskKind;
  error: { error: string; message: string; providerCode?: unknown };
}

/** Reads and changes tasks through Temporal, the system of record. */
export class TaskStore {
  constructor(
    private readonly client: Client,
    private readonly settings: TrackingSettings,
    private readonly submissions: {
      submitDeadlineMs: number;
      /** How long a submit request waits for the provider's task id before answering QUEUED. */
      submitWaitMs: number;
    },
  ) {}

  /**
   * Queues a submission durably (the submission workflow), then waits a little for its task id.
   * The same idempotency key joins the same submission, so the provider sees one call however often
   * it is asked; a submission whose deadline passed is started again. Throws the provider's error
   * for a submission it refused for good.
   */
  async submit(
    kind: TaskKind,
    input: Record<string, unknown>,
    idempotencyKey: string,
    summary: string | undefined,
  ): Promise<Extract<SubmissionView, { status: 'SUBMITTED' | 'QUEUED' }>> {
    const workflowId = submissionWorkflowId(idempotencyKey);
    const queuedAt = new Date().toISOString();
    let handle: WorkflowHandle<typeof submitMusicTask>;
    try {
      handle = await this.client.workflow.start<typeof submitMusicTask>(SUBMISSION_WORKFLOW, {
        workflowId,
        taskQueue: this.settings.taskQueue,
        args: [
          {
            kind,
            input,
            ...(summary ? { summary } : {}),
            queuedAt,
            submitDeadlineMs: this.submissions.submitDeadlineMs,
            tracking: {
              timing: this.settings.timing,
              postprocessTaskQueue: this.settings.postprocessTaskQueue,
              providerTaskQueue: this.settings.providerTaskQueue,
            },
          },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A submission that failed (deadline) may be asked again; one that completed is final.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        staticSummary: `submit ${kind}${summary ? ` — ${summary}` : ''}`,
        memo: { kind },
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      handle = this.client.workflow.getHandle<typeof submitMusicTask>(workflowId);
    }
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<'waiting'>((resolve) => {
      timer = setTimeout(() => resolve('waiting'), this.submissions.submitWaitMs);
    });
    let outcome: SubmissionOutcome | 'waiting';
    try {
      outcome = await Promise.race([handle.result(), patience]);
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      // It failed while this request waited (terminated, or a deadline shorter than the wait).
      const failure = failureOf(error);
      throw new HttpError(503, failure.error, failure.message, { idempotencyKey });
    } finally {
      clearTimeout(timer);
    }
    if (outcome !== 'waiting') {
      if (outcome.status === 'REJECTED') throw rejectionError(outcome);
      return { ...outcome, idempotencyKey };
    }
    const view = await this.submission(idempotencyKey);
    if (view.status === 'REJECTED' || view.status === 'FAILED') {
      const { error: code, message, ...extra } = view.error;
      // The same HTTP status the direct answer gives (rejectionError), whichever way it was read.
      const status = Object.values(SUBMIT_FAILURES).find((failure) => failure.code === code)?.status ?? 503;
      throw new HttpError(status, code, message, { ...extra, idempotencyKey });
    }
    return view;
  }

  /** A submission by its idempotency key: queued (with its attempts), sent, rejected or failed. */
  async submission(idempotencyKey: string): Promise<SubmissionView> {
    const handle = this.client.workflow.getHandle<typeof submitMusicTask>(
      submissionWorkflowId(idempotencyKey),
    );
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new HttpError(
          404,
          'submission_not_found',
          `no submission with idempotencyKey "${idempotencyKey}"`,
        );
      }
      throw error;
    }
    if (description.status.name === 'RUNNING') {
      const pending = description.raw.pendingActivities?.find(
        (activity) => activity.activityType?.name === 'submitToProvider',
      );
      const lastError = pending?.lastFailure?.message;
      return {
        idempotencyKey,
        status: 'QUEUED',
        kind: (description.memo?.kind as TaskKind | undefined) ?? 'music',
        queuedAt: description.startTime.toISOString(),
        attempts: pendingAttempts(pending),
        ...(lastError ? { lastError } : {}),
      };
    }
    try {
      const outcome = await handle.result();
      if (outcome.status === 'REJECTED') {
        const rejection = rejectionError(outcome);
        return {
          idempotencyKey,
          status: 'REJECTED',
          kind: outcome.kind,
          error: { error: rejection.code, message: rejection.message, ...rejection.extra },
        };
      }
      return { ...outcome, idempotencyKey };
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      return {
        idempotencyKey,
        status: 'FAILED',
        kind: (description.memo?.kind as TaskKind | undefined) ?? 'music',
        error: failureOf(error),
      };
    }
  }

  /** Tracks a task submitted elsewhere. `created` is false when it was already tracked. */
  async track(taskId: string, kind: TaskKind): Promise<{ created: boolean; kind: TaskKind; status: string }> {
    const workflowId = musicTaskWorkflowId(taskId);
    let existing: WorkflowExecutionDescription | undefined;
    try {
      existing = await this.client.workflow.getHandle(workflowId).describe();
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    if (existing) {
      const trackedKind = existing.typedSearchAttributes.get(MusicTaskKindKey) ?? kind;
      if (trackedKind !== kind) {
        throw new HttpError(409, 'kind_mismatch', `task ${taskId} is already tracked as ${trackedKind}`);
      }
      return {
        created: false,
        kind,
        status: existing.typedSearchAttributes.get(MusicTaskStatusKey) ?? 'PENDING',
      };
    }
    await startTracking(this.client, this.settings, taskId, kind, {
      submittedAt: new Date().toISOString(),
      firstPollMs: FIRST_POLL_OF_TRACKED_MS,
    });
    return { created: true, kind, status: 'PENDING' };
  }

  /**
   * The task's view: the live query while it runs, the workflow's result once it closed.
   * @param log where a failed status query is reported (the view then comes from search attributes)
   */
  async get(taskId: string, log?: Pick<FastifyBaseLogger, 'warn'>): Promise<TaskView> {
    return withAssetUrls(await this.view(taskId, log));
  }

  private async view(taskId: string, log?: Pick<FastifyBaseLogger, 'warn'>): Promise<TaskView> {
    const handle = this.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw notFound(taskId);
      throw error;
    }
    if (description.status.name === 'RUNNING') {
      try {
        return await this.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
          handle.query(statusQuery),
        );
      } catch (queryError) {
        log?.warn({ taskId, err: queryError }, 'status query failed: answering from search attributes');
        // No worker answered in time: the search attributes still tell the status.
        return {
          ...summaryView(taskId, description),
          error: {
            code: 'status_unavailable',
            message: 'no worker answered the status query; is a worker running?',
          },
        };
      }
    }
    if (description.status.name === 'COMPLETED' || description.status.name === 'CONTINUED_AS_NEW') {
      // The result carries the task's final events too (for its event stream): the view is the rest.
      const { eventLog: _eventLog, ...view } = (await handle.result()) as TaskView & { eventLog?: unknown };
      return view;
    }
    if (description.status.name === 'CANCELLED') {
      // A cancelled run recorded its view before closing: a query of the closed run replays it.
      try {
        return await this.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
          handle.query(statusQuery),
        );
      } catch (queryError) {
        log?.warn({ taskId, err: queryError }, 'status query of a cancelled task failed');
        return { ...summaryView(taskId, description), status: CANCELLED_STATUS };
      }
    }
    // Terminated or failed at the workflow level: say what the search attributes know.
    return {
      ...summaryView(taskId, description),
      error: {
        code: `WORKFLOW_${description.status.name}`,
        message: `the tracking workflow ended as ${description.status.name.toLowerCase()}; its history in the Temporal UI tells why`,
      },
    };
  }

  async list(filters: { status?: string; kind?: TaskKind; limit: number }) {
    const clauses = [`WorkflowType = '${MUSIC_TASK_WORKFLOW}'`];
    if (filters.status) clauses.push(`MusicTaskStatus = '${filters.status}'`);
    if (filters.kind) clauses.push(`MusicTaskKind = '${filters.kind}'`);
    const tasks = [];
    for await (const execution of this.client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: filters.limit,
    })) {
      const taskId = execution.workflowId.replace(/^music-task-/, '');
      const title = execution.memo?.title;
      tasks.push({
        ...viewFromSearchAttributes(taskId, execution),
        ...(typeof title === 'string' ? { title } : {}),
      });
      if (tasks.length >= filters.limit) break;
    }
    return tasks;
  }

  /**
   * Cancels tracking; the workflow records CANCELLED, stops its timers and closes as Canceled.
   * @returns `CANCELLING` when asked now, `CANCELLED` when it already was (nothing changes)
   */
  async cancel(taskId: string): Promise<'CANCELLING' | 'CANCELLED'> {
    const handle = this.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw notFound(taskId);
      throw error;
    }
    if (description.status.name === 'RUNNING') {
      await handle.cancel();
      return 'CANCELLING';
    }
    const known = viewFromSearchAttributes(taskId, description);
    if (description.status.name === 'CANCELLED' || known.status === CANCELLED_STATUS) return 'CANCELLED';
    throw new HttpError(
      409,
      'task_already_finished',
      `task ${taskId} already finished (${known.status}${known.ready ? ', ready' : ''}): nothing was changed`,
      { status: known.status, ready: known.ready },
    );
  }
}

type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

/** Sends already made: a scheduled attempt has not been sent yet, a started one is being sent. */
function pendingAttempts(pending: PendingActivity | undefined): number {
  if (!pending?.attempt) return 0;
  const scheduled =
    pending.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED;
  return pending.attempt - (scheduled ? 1 : 0);
}

/** Each stored file with the URL it is served at (`GET /v1/assets/:assetId`), relative to the API. */
function withAssetUrls(view: TaskView): TaskView {
  return {
    ...view,
    assets: view.assets.map((asset) => ({ ...asset, url: `/v1/assets/${encodeURIComponent(asset.id)}` })),
  };
}

/** A task view from the search attributes alone, when the workflow cannot answer for itself. */
function summaryView(taskId: string, description: WorkflowExecutionDescription): TaskView {
  const known = viewFromSearchAttributes(taskId, description);
  return {
    taskId,
    workflowId: known.workflowId,
    kind: known.kind as TaskKind,
    status: known.status,
    ready: known.ready,
    submittedAt: known.startedAt,
    updatedAt: known.closedAt ?? known.startedAt,
    assets: [],
    receipts: [],
    receiptCounts: { total: 0, duplicates: 0, byPhase: {} },
    polls: [],
    pollCount: 0,
  };
}

function notFound(taskId: string): HttpError {
  return new HttpError(404, 'task_not_found', `no task ${taskId} is tracked here`);
}

function viewFromSearchAttributes(taskId: string, execution: Omit<WorkflowExecutionInfo, 'raw'>) {
  const attributes = execution.typedSearchAttributes;
  return {
    taskId,
    workflowId: execution.workflowId,
    kind: attributes.get(MusicTaskKindKey) ?? 'unknown',
    status: attributes.get(MusicTaskStatusKey) ?? 'PENDING',
    ready: attributes.get(MusicTaskReadyKey) ?? false,
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
  };
}
