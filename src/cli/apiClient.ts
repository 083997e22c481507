import type { TaskView } from '../workflows/state.ts';

/** What the CLI prints when the API refuses: its stable code, its message, and what to do. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface TaskSummary {
  taskId: string;
  workflowId: string;
  kind: string;
  status: string;
  ready: boolean;
  startedAt?: string;
  closedAt?: string;
}

/** A small typed client of the HTTP API, for the CLI and the demo. */
export class TasksApi {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(300_000),
      });
    } catch (error) {
      throw new ApiError(
        0,
        'api_unreachable',
        `cannot reach the API at ${this.baseUrl} (${error instanceof Error ? error.message : String(error)}); ` +
          'is `npm start` running, or is API_URL right?',
        undefined,
      );
    }
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const { error, message } = (parsed ?? {}) as { error?: string; message?: string };
      throw new ApiError(
        response.status,
        error ?? `http_${response.status}`,
        message ?? response.statusText,
        parsed,
      );
    }
    return parsed as T;
  }

  /**
   * Submits, and waits for the task id of a submission the service queued behind the provider's
   * budget (`onQueued` is told once, so the user knows why it takes a while).
   */
  async submit(
    kind: string,
    input: Record<string, unknown>,
    idempotencyKey?: string,
    onQueued: (idempotencyKey: string) => void = () => {},
  ): Promise<{ taskId: string; workflowId: string; kind: string; status: string }> {
    const answer = await this.call<{
      taskId?: string;
      workflowId?: string;
      kind: string;
      status: string;
      idempotencyKey?: string;
    }>('POST', '/v1/tasks', { kind, input, ...(idempotencyKey ? { idempotencyKey } : {}) });
    if (answer.taskId && answer.workflowId) {
      return {
        taskId: answer.taskId,
        workflowId: answer.workflowId,
        kind: answer.kind,
        status: answer.status,
      };
    }
    const key = answer.idempotencyKey!;
    onQueued(key);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const submission = await this.submission(key);
      if (submission.taskId && submission.workflowId) {
        return { taskId: submission.taskId, workflowId: submission.workflowId, kind, status: 'PENDING' };
      }
      if (submission.status !== 'QUEUED') {
        const error = submission.error ?? { error: 'submission_failed', message: submission.status };
        throw new ApiError(422, error.error, error.message, submission);
      }
    }
  }

  submission(idempotencyKey: string) {
    return this.call<{
      status: string;
      taskId?: string;
      workflowId?: string;
      error?: { error: string; message: string };
    }>('GET', `/v1/submissions/${encodeURIComponent(idempotencyKey)}`);
  }

  track(taskId: string, kind: string) {
    return this.call<{ taskId: string; workflowId: string; kind: string; status: string }>(
      'PUT',
      `/v1/tasks/${encodeURIComponent(taskId)}`,
      { kind },
    );
  }

  get(taskId: string) {
    return this.call<TaskView>('GET', `/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  list(filters: { status?: string; kind?: string; limit?: number }) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters))
      if (value !== undefined) query.set(key, String(value));
    const search = query.toString();
    return this.call<{ tasks: TaskSummary[] }>('GET', `/v1/tasks${search ? `?${search}` : ''}`);
  }

  cancel(taskId: string) {
    return this.call<{ taskId: string; status: string }>('DELETE', `/v1/tasks/${encodeURIComponent(taskId)}`);
  }
}
