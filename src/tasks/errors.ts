/**
 * What can go wrong when asking about tasks, in the domain's words: no HTTP here. The API maps
 * each `code` to a status in one table (`src/api/errors.ts`); the CLI's server side and the
 * activities read the classes.
 */

export type TaskErrorCode =
  | 'task_not_found'
  | 'kind_mismatch'
  | 'task_already_finished'
  | 'submission_not_found'
  | 'submission_failed'
  | 'submit_deadline_exceeded'
  | 'provider_rejected'
  | 'provider_auth_failed'
  | 'provider_quota_exhausted';

/** A task operation that cannot be done as asked; `details` are public fields for the answer. */
export class TaskError extends Error {
  override name = 'TaskError';
  constructor(
    readonly code: TaskErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class TaskNotFound extends TaskError {
  override name = 'TaskNotFound';
  constructor(readonly taskId: string) {
    super('task_not_found', `no task ${taskId} is tracked here`);
  }
}

export class KindMismatch extends TaskError {
  override name = 'KindMismatch';
  constructor(taskId: string, trackedKind: string) {
    super('kind_mismatch', `task ${taskId} is already tracked as ${trackedKind}`);
  }
}

export class TaskAlreadyFinished extends TaskError {
  override name = 'TaskAlreadyFinished';
  constructor(taskId: string, status: string, ready: boolean) {
    super(
      'task_already_finished',
      `task ${taskId} already finished (${status}${ready ? ', ready' : ''}): nothing was changed`,
      { status, ready },
    );
  }
}

export class SubmissionNotFound extends TaskError {
  override name = 'SubmissionNotFound';
  constructor(idempotencyKey: string) {
    super('submission_not_found', `no submission with idempotencyKey "${idempotencyKey}"`);
  }
}

/** A submission that ended without a task: its deadline passed, or it was terminated. */
export class SubmissionFailed extends TaskError {
  override name = 'SubmissionFailed';
  constructor(
    code: 'submission_failed' | 'submit_deadline_exceeded',
    message: string,
    idempotencyKey: string,
  ) {
    super(code, message, { idempotencyKey });
  }
}

/** Provider failure types (the activity's `ApplicationFailure.type`) a submission ends on for good. */
const REJECTION_CODES: Record<string, TaskErrorCode> = {
  ProviderRejected: 'provider_rejected',
  ProviderAuthFailed: 'provider_auth_failed',
  ProviderQuotaExhausted: 'provider_quota_exhausted',
};

/** The provider refused the submission for good (400/401/413/429): it is never sent again. */
export class ProviderRejected extends TaskError {
  override name = 'ProviderRejected';
  constructor(
    failureType: string,
    message: string,
    providerCode: number | null,
    extra: Record<string, unknown> = {},
  ) {
    super(REJECTION_CODES[failureType] ?? 'provider_rejected', message, {
      providerCode,
      providerMessage: message,
      ...extra,
    });
  }
}
