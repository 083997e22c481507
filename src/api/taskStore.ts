import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
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
  type SubmissionResult,
} from '../workflows/definitions.ts';
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
  ProviderRateLimited: { status: 503, code: 'provider_rate_limited' },
  ProviderMaintenance: { status: 503, code: 'provider_maintenance' },
  ProviderUnavailable: { status: 503, code: 'provider_unavailable' },
};

/** The provider failure at the bottom of a failed submission, as an HTTP error. */
export function submissionError(error: WorkflowFailedError): HttpError {
  let cause: unknown = error.cause;
  while (cause instanceof ActivityFailure) cause = cause.cause;
  if (cause instanceof ApplicationFailure && cause.type && SUBMIT_FAILURES[cause.type]) {
    const { status, code } = SUBMIT_FAILURES[cause.type]!;
    const detail = (cause.details?.[0] ?? {}) as { providerCode?: number | null; providerMessage?: string };
    return new HttpError(status, code, cause.message, {
      providerCode: detail.providerCode ?? null,
      providerMessage: detail.providerMessage ?? cause.message,
    });
  }
  return new HttpError(503, 'submission_failed', `the submission did not complete: ${error.message}`);
}

/** Reads and changes tasks through Temporal, the system of record. */
export class TaskStore {
  constructor(
    private readonly client: Client,
    private readonly settings: TrackingSettings,
    /** How long a submit request waits for the provider before answering 503 (the work goes on). */
    private readonly submitPatienceMs = 60_000,
  ) {}

  /**
   * Submits through the durable submission workflow. The same idempotency key joins the same
   * workflow, whose result is the same task: one provider call, however often it is asked.
   */
  async submit(
    kind: TaskKind,
    input: Record<string, unknown>,
    idempotencyKey: string,
    summary: string | undefined,
  ): Promise<SubmissionResult> {
    const workflowId = submissionWorkflowId(idempotencyKey);
    let handle;
    try {
      handle = await this.client.workflow.start<typeof submitMusicTask>(SUBMISSION_WORKFLOW, {
        workflowId,
        taskQueue: this.settings.taskQueue,
        args: [
          {
            kind,
            input,
            ...(summary ? { summary } : {}),
            tracking: {
              timing: this.settings.timing,
              postprocessTaskQueue: this.settings.postprocessTaskQueue,
            },
          },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `submit ${kind}${summary ? ` — ${summary}` : ''}`,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      handle = this.client.workflow.getHandle<typeof submitMusicTask>(workflowId);
    }
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              503,
              'submission_pending',
              `the submission is still running (is a worker up?); retry with idempotencyKey "${idempotencyKey}" to get its task`,
              { idempotencyKey },
            ),
          ),
        this.submitPatienceMs,
      );
    });
    try {
      return await Promise.race([handle.result(), patience]);
    } catch (error) {
      if (error instanceof WorkflowFailedError) throw submissionError(error);
      throw error;
    } finally {
      clearTimeout(timer);
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
      return (await handle.result()) as TaskView;
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
