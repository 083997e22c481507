/**
 * The one place that talks to Temporal about tasks: workflow ids and start options, submissions,
 * `signalWithStart` for callbacks, the status query, visibility reads and cancellation. It speaks
 * in domain errors (`./errors.ts`), never HTTP; the routes, the webhook and the tracking activity
 * use it.
 */
import {
  isGrpcCancelledError,
  isGrpcDeadlineError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { SubmissionView, TaskSummary, TaskView } from '../contract/schemas.ts';
import type { Config } from '../config.ts';
import { notifyTargetSignal, type NotifyRetry, type NotifyTarget } from '../notifications/events.ts';
import { SUCCESS_STATUS, type TaskKind } from '../provider/kinds.ts';
import {
  callbackSignal,
  earlyCallbackSignal,
  MUSIC_TASK_WORKFLOW,
  musicTaskWorkflowId,
  MusicTaskKindKey,
  MusicTaskReadyKey,
  MusicTaskStatusKey,
  statusQuery,
  SUBMISSION_WORKFLOW,
  SUBMIT_DEADLINE_EXCEEDED,
  submissionWorkflowId,
  type CallbackSignal,
  type MusicTaskInput,
  type SubmissionInput,
  type SubmissionOutcome,
  type SubmissionRejected,
} from '../workflows/definitions.ts';
import { CANCELLED, isSettled, type TaskView as WorkflowView } from '../workflows/state.ts';
import {
  ProviderRejected,
  SubmissionFailed,
  SubmissionNotFound,
  TaskAlreadyFinished,
  KindMismatch,
  TaskNotFound,
} from './errors.ts';
import { emptyView, summaryOf, withAssetUrls } from './views.ts';

/** Where the musicTask workflows of this deployment run, and how they are timed. */
export interface TrackingSettings {
  taskQueue: string;
  postprocessTaskQueue: string;
  providerTaskQueue: string;
  timing: MusicTaskInput['timing'];
  /** Notifications: the default URL (NOTIFY_URL) for tasks that name none, and the retry schedule. */
  notify?: { defaultUrl?: string; retry: NotifyRetry };
}

export function trackingSettings(config: Config): TrackingSettings {
  return {
    taskQueue: config.temporal.taskQueue,
    postprocessTaskQueue: config.temporal.postprocessTaskQueue,
    providerTaskQueue: config.temporal.providerTaskQueue,
    timing: config.timing,
    notify: { defaultUrl: config.notify.url, retry: config.notify.retry },
  };
}

/** Where a task's terminal event goes: `url`, on this deployment's retry schedule. */
export function notifyTarget(settings: TrackingSettings, url: string): NotifyTarget {
  if (!settings.notify) throw new Error('these tracking settings have no notification schedule');
  return { url, retry: settings.notify.retry };
}

export interface SubmissionSettings {
  submitDeadlineMs: number;
  /** How long a submit request waits for the provider's task id before answering QUEUED. */
  submitWaitMs: number;
}

/** How long a read waits for a worker to answer the status query, and a signal for Temporal. */
const QUERY_DEADLINE_MS = 5_000;

/** A task tracked by id is asked about at once: an id the provider does not know shows in seconds. */
const FIRST_POLL_OF_TRACKED_MS = 1_000;

/** Why a status query failed, for whoever reads the view (it then comes from search attributes). */
export type QueryFailureLog = (taskId: string, error: unknown) => void;

type Submitted = Extract<SubmissionView, { status: 'SUBMITTED' }>;
type Queued = Extract<SubmissionView, { status: 'QUEUED' }>;

/** Tasks and submissions through Temporal, the system of record. */
export class TaskClient {
  constructor(
    readonly temporal: Client,
    readonly tracking: TrackingSettings,
    private readonly submissions: SubmissionSettings = {
      submitDeadlineMs: 30 * 60_000,
      submitWaitMs: 10_000,
    },
  ) {}

  static fromConfig(temporal: Client, config: Config): TaskClient {
    return new TaskClient(temporal, trackingSettings(config), {
      submitDeadlineMs: config.submitDeadlineMs,
      submitWaitMs: config.submitWaitMs,
    });
  }

  // ── submissions ──────────────────────────────────────────────────────────────────────────────

  /**
   * Queues a submission durably (the submission workflow), then waits a little for its task id.
   * The same idempotency key joins the same submission, so the provider sees one call however often
   * it is asked; a submission that failed (its deadline passed) is started again.
   * @throws ProviderRejected for a submission the provider refused for good
   * @throws SubmissionFailed when it ended without a task while this call waited
   */
  async submit(
    kind: TaskKind,
    input: Record<string, unknown>,
    idempotencyKey: string,
    summary: string | undefined,
    /** Where the task's terminal event goes (else NOTIFY_URL, if set). */
    notifyUrl?: string,
  ): Promise<Submitted | Queued> {
    const workflowId = submissionWorkflowId(idempotencyKey);
    const args: SubmissionInput = {
      kind,
      input,
      ...(summary ? { summary } : {}),
      queuedAt: new Date().toISOString(),
      submitDeadlineMs: this.submissions.submitDeadlineMs,
      tracking: {
        timing: this.tracking.timing,
        postprocessTaskQueue: this.tracking.postprocessTaskQueue,
        providerTaskQueue: this.tracking.providerTaskQueue,
        ...(notifyUrl ? { notify: notifyTarget(this.tracking, notifyUrl) } : {}),
      },
    };
    let handle: WorkflowHandle;
    try {
      handle = await this.temporal.workflow.start(SUBMISSION_WORKFLOW, {
        workflowId,
        taskQueue: this.tracking.taskQueue,
        args: [args],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A submission that failed (deadline) may be asked again; one that completed is final.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        staticSummary: `submit ${kind}${summary ? ` — ${summary}` : ''}`,
        memo: { kind },
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      handle = this.temporal.workflow.getHandle(workflowId);
    }
    let outcome: SubmissionOutcome;
    try {
      const patience = AbortSignal.timeout(this.submissions.submitWaitMs);
      outcome = await this.temporal.withAbortSignal(
        patience,
        () => handle.result() as Promise<SubmissionOutcome>,
      );
    } catch (error) {
      if (error instanceof WorkflowFailedError) throw submissionFailure(error, idempotencyKey);
      // The wait ran out (gRPC says CANCELLED for an aborted call, DEADLINE_EXCEEDED now and then).
      if (!isGrpcCancelledError(error) && !isGrpcDeadlineError(error)) throw error;
      // Still queued behind the budget (or racing its end): read what it is now.
      const { view, ended } = await this.readSubmission(idempotencyKey);
      if (ended) throw ended;
      return view as Submitted | Queued;
    }
    if (outcome.status === 'REJECTED') throw rejection(outcome, idempotencyKey);
    return { ...outcome, idempotencyKey };
  }

  /**
   * A submission by its idempotency key: queued (with its attempts), sent, rejected or failed.
   * @throws SubmissionNotFound
   */
  async submission(idempotencyKey: string): Promise<SubmissionView> {
    return (await this.readSubmission(idempotencyKey)).view;
  }

  /** The submission's view, and for one that ended without a task the error its submit answers. */
  private async readSubmission(
    idempotencyKey: string,
  ): Promise<{ view: SubmissionView; ended?: ProviderRejected | SubmissionFailed }> {
    const handle = this.temporal.workflow.getHandle(submissionWorkflowId(idempotencyKey));
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new SubmissionNotFound(idempotencyKey);
      throw error;
    }
    const kind = (description.memo?.kind as TaskKind | undefined) ?? 'music';
    if (description.status.name === 'RUNNING') {
      const pending = description.raw.pendingActivities?.find(
        (activity) => activity.activityType?.name === 'submitToProvider',
      );
      const lastError = pending?.lastFailure?.message;
      return {
        view: {
          idempotencyKey,
          status: 'QUEUED',
          kind,
          queuedAt: description.startTime.toISOString(),
          attempts: pendingAttempts(pending),
          ...(lastError ? { lastError } : {}),
        },
      };
    }
    let outcome: SubmissionOutcome;
    try {
      outcome = (await handle.result()) as SubmissionOutcome;
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      const failed = submissionFailure(error, idempotencyKey);
      return {
        view: {
          idempotencyKey,
          status: 'FAILED',
          kind,
          error: { error: failed.code, message: failed.message },
        },
        ended: failed,
      };
    }
    if (outcome.status === 'SUBMITTED') return { view: { ...outcome, idempotencyKey } };
    const refused = rejection(outcome, idempotencyKey);
    return {
      view: {
        idempotencyKey,
        status: 'REJECTED',
        kind: outcome.kind,
        error: {
          error: refused.code,
          message: refused.message,
          providerCode: outcome.error.providerCode,
          providerMessage: outcome.error.message,
        },
      },
      ended: refused,
    };
  }

  // ── tracking ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Starts tracking a task, or joins the run that already tracks it (a callback may have come first).
   * `closed` says the task's run had already closed: nothing was started.
   */
  async startTracking(
    taskId: string,
    kind: TaskKind,
    extra: Partial<MusicTaskInput> = {},
  ): Promise<{ handle: WorkflowHandle; closed: boolean }> {
    const options = this.startOptions(taskId, kind, extra);
    try {
      const handle = await this.temporal.workflow.start(MUSIC_TASK_WORKFLOW, {
        ...options,
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      return { handle, closed: false };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      return { handle: this.temporal.workflow.getHandle(options.workflowId), closed: true };
    }
  }

  /**
   * Tracks a task submitted elsewhere. `created` is false when it was already tracked; a running
   * task given a `notifyUrl` is told at once.
   * @throws KindMismatch when it is tracked as another kind
   */
  async track(
    taskId: string,
    kind: TaskKind,
    /** Where the task's terminal event goes (else NOTIFY_URL, if set). */
    notifyUrl?: string,
  ): Promise<{ created: boolean; kind: TaskKind; status: string }> {
    const existing = await this.describeTask(taskId).catch((error: unknown) => {
      if (error instanceof TaskNotFound) return undefined;
      throw error;
    });
    if (existing) {
      const trackedKind = existing.typedSearchAttributes.get(MusicTaskKindKey) ?? kind;
      if (trackedKind !== kind) throw new KindMismatch(taskId, trackedKind);
      if (notifyUrl && existing.status.name === 'RUNNING') {
        await this.temporal.workflow
          .getHandle(existing.workflowId)
          .signal(notifyTargetSignal, notifyTarget(this.tracking, notifyUrl));
      }
      return {
        created: false,
        kind,
        status: existing.typedSearchAttributes.get(MusicTaskStatusKey) ?? 'PENDING',
      };
    }
    await this.startTracking(taskId, kind, {
      submittedAt: new Date().toISOString(),
      firstPollMs: FIRST_POLL_OF_TRACKED_MS,
      ...(notifyUrl ? { notify: notifyTarget(this.tracking, notifyUrl) } : {}),
    });
    return { created: true, kind, status: 'PENDING' };
  }

  // ── callbacks ────────────────────────────────────────────────────────────────────────────────

  /**
   * Delivers a callback to its task's workflow, starting the workflow when none runs yet
   * (`signalWithStart`).
   * @param withinMs how long Temporal may take (the provider waits 10–15 s for an answer)
   * @returns false when the task's workflow has already closed (nothing was recorded)
   */
  async deliverCallback(signal: CallbackSignal, withinMs = QUERY_DEADLINE_MS): Promise<boolean> {
    const options = this.startOptions(signal.callback.taskId, signal.callback.kind, {});
    try {
      await this.temporal.withDeadline(Date.now() + withinMs, () =>
        this.temporal.workflow.signalWithStart(MUSIC_TASK_WORKFLOW, {
          ...options,
          signal: callbackSignal,
          signalArgs: [signal],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw error;
    }
  }

  /**
   * Delivers a callback that came through a signed per-task URL, starting nothing: a leaked URL
   * cannot create workflows. The task's workflow decides whether the nonce is its own. A callback
   * that beats the submit answer (no task workflow yet) waits in the submission's workflow, which
   * hands it on once it knows its task id.
   * @param submissionKey the idempotency key the URL was issued for; undefined for a task tracked with PUT
   * @returns false when neither workflow takes it any more (closed, or never ours)
   */
  async deliverToTracked(
    signal: CallbackSignal,
    submissionKey: string | undefined,
    withinMs = QUERY_DEADLINE_MS,
  ): Promise<boolean> {
    return this.temporal.withDeadline(Date.now() + withinMs, () => this.signalTracked(signal, submissionKey));
  }

  private async signalTracked(signal: CallbackSignal, submissionKey: string | undefined): Promise<boolean> {
    const task = this.temporal.workflow.getHandle(musicTaskWorkflowId(signal.callback.taskId));
    if (await signalIfRunning(task, callbackSignal, signal)) return true;
    if (submissionKey === undefined) return false;
    const submission = this.temporal.workflow.getHandle(submissionWorkflowId(submissionKey));
    if (await signalIfRunning(submission, earlyCallbackSignal, signal)) return true;
    // The submission closed in between: it has started the task's workflow by now, if the task is its own.
    return signalIfRunning(task, callbackSignal, signal);
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────────

  /**
   * The task's view: the live query while it runs, the workflow's result once it closed, and what
   * the search attributes know when the workflow cannot answer for itself.
   * @param onQueryFailure told why a status query failed (the view then comes from search attributes)
   * @throws TaskNotFound
   */
  async get(taskId: string, onQueryFailure?: QueryFailureLog): Promise<TaskView> {
    return withAssetUrls(await this.view(taskId, onQueryFailure));
  }

  private async view(taskId: string, onQueryFailure?: QueryFailureLog): Promise<WorkflowView> {
    const description = await this.describeTask(taskId);
    const handle = this.temporal.workflow.getHandle(description.workflowId);
    const status = description.status.name;
    if (status === 'COMPLETED' || status === 'CONTINUED_AS_NEW') {
      // The result carries the task's final events too (for its event stream): the view is the rest.
      const { eventLog: _eventLog, ...view } = (await handle.result()) as WorkflowView & {
        eventLog?: unknown;
      };
      return view;
    }
    if (status === 'RUNNING' || status === 'CANCELLED') {
      // A cancelled run recorded its view before closing: a query of the closed run replays it.
      try {
        return await this.queryStatus(handle);
      } catch (error) {
        onQueryFailure?.(taskId, error);
        const fallback = emptyView(summaryOf(description));
        if (status === 'CANCELLED') return { ...fallback, status: CANCELLED };
        return {
          ...fallback,
          error: {
            code: 'status_unavailable',
            message: 'no worker answered the status query; is a worker running?',
          },
        };
      }
    }
    // Terminated or failed at the workflow level: say what the search attributes know.
    return {
      ...emptyView(summaryOf(description)),
      error: {
        code: `WORKFLOW_${status}`,
        message: `the tracking workflow ended as ${status.toLowerCase()}; its history in the Temporal UI tells why`,
      },
    };
  }

  /** The status query of a run, within the query deadline. */
  private queryStatus(handle: WorkflowHandle): Promise<WorkflowView> {
    return this.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(statusQuery));
  }

  /** Recent tasks from the search attributes (no query per task). */
  async list(filters: { status?: string; kind?: TaskKind; limit: number }): Promise<TaskSummary[]> {
    const clauses = [`WorkflowType = '${MUSIC_TASK_WORKFLOW}'`];
    // Both go into a visibility query: only plain names get there.
    if (filters.status) clauses.push(`MusicTaskStatus = '${plainName(filters.status)}'`);
    if (filters.kind) clauses.push(`MusicTaskKind = '${plainName(filters.kind)}'`);
    const tasks: TaskSummary[] = [];
    for await (const execution of this.temporal.workflow.list({
      query: clauses.join(' AND '),
      pageSize: filters.limit,
    })) {
      tasks.push(summaryOf(execution));
      if (tasks.length >= filters.limit) break;
    }
    return tasks;
  }

  /**
   * Cancels tracking; the workflow records CANCELLED, stops its timers and closes as Canceled.
   * @returns `CANCELLING` when asked now, `CANCELLED` when it already was (nothing changes)
   * @throws TaskNotFound, TaskAlreadyFinished
   */
  async cancel(taskId: string): Promise<'CANCELLING' | 'CANCELLED'> {
    const description = await this.describeTask(taskId);
    const known = summaryOf(description);
    // A settled task may still run while it notifies the app: it has finished all the same.
    const finished = known.ready || (isSettled(known) && known.status !== SUCCESS_STATUS);
    if (description.status.name === 'RUNNING' && !finished) {
      await this.temporal.workflow.getHandle(description.workflowId).cancel();
      return 'CANCELLING';
    }
    if (description.status.name === 'CANCELLED' || known.status === CANCELLED) return 'CANCELLED';
    throw new TaskAlreadyFinished(taskId, known.status, known.ready);
  }

  private async describeTask(taskId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal.workflow.getHandle(musicTaskWorkflowId(taskId)).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new TaskNotFound(taskId);
      throw error;
    }
  }

  private startOptions(taskId: string, kind: TaskKind, extra: Partial<MusicTaskInput>) {
    const defaultUrl = this.tracking.notify?.defaultUrl;
    const notify = extra.notify ?? (defaultUrl ? notifyTarget(this.tracking, defaultUrl) : undefined);
    const input: MusicTaskInput = {
      taskId,
      kind,
      timing: this.tracking.timing,
      postprocessTaskQueue: this.tracking.postprocessTaskQueue,
      providerTaskQueue: this.tracking.providerTaskQueue,
      ...extra,
      ...(notify ? { notify } : {}),
    };
    return {
      workflowId: musicTaskWorkflowId(taskId),
      taskQueue: this.tracking.taskQueue,
      args: [input],
      // A task id is tracked by one run, ever: a closed task is never started again.
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      staticSummary: `${kind} ${taskId}${extra.summary ? ` — ${extra.summary}` : ''}`,
      // The memo comes back with every row of a list: `list` shows the title without a query per task.
      ...(extra.summary ? { memo: { title: extra.summary } } : {}),
      typedSearchAttributes: [
        { key: MusicTaskStatusKey, value: 'PENDING' },
        { key: MusicTaskKindKey, value: kind },
        { key: MusicTaskReadyKey, value: false },
      ],
    };
  }
}

/** Signals a running workflow; false when it is not running (closed, or never started). */
async function signalIfRunning(
  handle: WorkflowHandle,
  definition: typeof callbackSignal,
  signal: CallbackSignal,
): Promise<boolean> {
  try {
    await handle.signal(definition, signal);
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

function plainName(name: string): string {
  if (!/^[\w-]+$/.test(name)) throw new RangeError(`not a plain name: ${JSON.stringify(name)}`);
  return name;
}

function rejection(rejected: SubmissionRejected, idempotencyKey: string): ProviderRejected {
  return new ProviderRejected(rejected.error.type, rejected.error.message, rejected.error.providerCode, {
    idempotencyKey,
  });
}

/** A submission workflow that failed (its deadline passed, or it was terminated). */
function submissionFailure(error: WorkflowFailedError, idempotencyKey: string): SubmissionFailed {
  const cause = error.cause;
  if (cause instanceof ApplicationFailure && cause.type === SUBMIT_DEADLINE_EXCEEDED) {
    return new SubmissionFailed('submit_deadline_exceeded', cause.message, idempotencyKey);
  }
  return new SubmissionFailed(
    'submission_failed',
    `the submission did not complete: ${cause?.message ?? error.message}`,
    idempotencyKey,
  );
}

type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

/** Sends already made: a scheduled attempt has not been sent yet, a started one is being sent. */
function pendingAttempts(pending: PendingActivity | undefined): number {
  if (!pending?.attempt) return 0;
  const scheduled =
    pending.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED;
  return pending.attempt - (scheduled ? 1 : 0);
}
