import { EventSourceParserStream } from 'eventsource-parser/stream';
import { KIND_TIMELINES } from '../provider/timings.ts';
import type {
  Cancelled,
  ProviderPace,
  SubmissionView,
  SubmitAnswer,
  TaskSummary,
  TaskView,
  Tracked,
  TrackPage,
} from '../contract/schemas.ts';
import type { TaskEvent } from '../workflows/eventTypes.ts';
import type { Timelines } from './progress.ts';

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

/** A row of the task list, and a ready track of the catalog: the shapes of the API's contract. */
export type { TaskSummary, TrackView as TrackSummary } from '../contract/schemas.ts';

/** An event of `GET /v1/tasks/:taskId/events`: the task's event with its task. */
export type StreamedEvent = TaskEvent & { taskId: string; kind: string };
/** What the stream says when events older than the task keeps are gone. */
export interface StreamGap {
  type: 'gap';
  taskId: string;
  from: number;
  to: number;
}

/** An open per-task event stream: its events as they come; `ended` once the server has nothing more. */
export interface EventStream {
  /** The task had ended before (a 204): nothing will come. */
  ended: boolean;
  events: AsyncIterable<{ id: string | undefined; event: StreamedEvent | StreamGap }>;
}

/** A small typed client of the HTTP API, for the CLI and the demo. */
export class TasksApi {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** What a request that never reached the API throws: the address it tried, and what to check. */
  private unreachable(error: unknown): ApiError {
    return new ApiError(
      0,
      'api_unreachable',
      `cannot reach the API at ${this.baseUrl} (${error instanceof Error ? error.message : String(error)}); ` +
        'is `npm start` running, or is API_URL right?',
      undefined,
    );
  }

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
      throw this.unreachable(error);
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
    const answer = await this.call<SubmitAnswer>('POST', '/v1/tasks', {
      kind,
      input,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    if (answer.status === 'PENDING') {
      return {
        taskId: answer.taskId,
        workflowId: answer.workflowId,
        kind: answer.kind,
        status: answer.status,
      };
    }
    const key = answer.idempotencyKey;
    onQueued(key);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const submission = await this.submission(key);
      if (submission.status === 'SUBMITTED') {
        return { taskId: submission.taskId, workflowId: submission.workflowId, kind, status: 'PENDING' };
      }
      if (submission.status !== 'QUEUED') {
        throw new ApiError(422, submission.error.error, submission.error.message, submission);
      }
    }
  }

  submission(idempotencyKey: string) {
    return this.call<SubmissionView>('GET', `/v1/submissions/${encodeURIComponent(idempotencyKey)}`);
  }

  track(taskId: string, kind: string) {
    return this.call<Tracked>('PUT', `/v1/tasks/${encodeURIComponent(taskId)}`, { kind });
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

  /** The provider's pace as the service runs it; a server without the route answers typical timings. */
  async pace(): Promise<Omit<ProviderPace, 'timelines'> & { timelines: Timelines }> {
    try {
      return await this.call('GET', '/v1/provider');
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        return { simulated: false, timeScale: 1, timelines: KIND_TIMELINES };
      }
      throw error;
    }
  }

  /**
   * Opens the task's event stream after `lastEventId` (its sequence number; undefined: from the start).
   * Refusals throw ApiError as every call does; an unreachable API is `api_unreachable`.
   */
  async events(taskId: string, lastEventId: string | undefined, signal: AbortSignal): Promise<EventStream> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/v1/tasks/${encodeURIComponent(taskId)}/events`, {
        headers: {
          accept: 'text/event-stream',
          ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        signal,
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    if (response.status === 204) return { ended: true, events: (async function* () {})() };
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok || !type.startsWith('text/event-stream') || !response.body) {
      const parsed = (await response.json().catch(() => undefined)) as
        { error?: string; message?: string } | undefined;
      throw new ApiError(
        response.status,
        parsed?.error ?? `http_${response.status}`,
        parsed?.message ?? response.statusText,
        parsed,
      );
    }
    const messages = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream());
    return {
      ended: false,
      events: (async function* () {
        try {
          for await (const message of messages) {
            yield { id: message.id, event: JSON.parse(message.data) as StreamedEvent | StreamGap };
          }
        } catch (error) {
          // The connection broke (the server went away): the stream just ends; the caller resumes.
          if (signal.aborted || error instanceof SyntaxError) throw error;
        }
      })(),
    };
  }

  cancel(taskId: string) {
    return this.call<Cancelled>('DELETE', `/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  tracks(filters: { q?: string; tag?: string; limit?: number }) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters))
      if (value !== undefined) query.set(key, String(value));
    const search = query.toString();
    return this.call<TrackPage>('GET', `/v1/tracks${search ? `?${search}` : ''}`);
  }

  /** Streams a stored file (`url` as the API gives it, e.g. `/v1/assets/<id>`). */
  async download(url: string): Promise<ReadableStream<Uint8Array>> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${url}`, {
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    if (!response.ok || !response.body) {
      const { error, message } = ((await response.json().catch(() => ({}))) ?? {}) as {
        error?: string;
        message?: string;
      };
      throw new ApiError(
        response.status,
        error ?? `http_${response.status}`,
        message ?? response.statusText,
        undefined,
      );
    }
    return response.body;
  }
}
