/**
 * The public HTTP contract in one place: every body the API answers, as zod schemas. Routes
 * declare them per status (the serializer drops anything not named here, so internals never
 * leak), the OpenAPI document is generated from them, and the CLI's types are inferred from them.
 *
 * A leaf: it imports zod and the kind table only. The workflow sandbox imports its *types* (erased
 * at bundle time), never its values.
 */
import { z } from 'zod';
import { TASK_KINDS } from '../provider/kinds.ts';

const isoTime = z.string().describe('ISO 8601 time');

export const taskKind = z
  .enum(TASK_KINDS, { error: `expected one of ${TASK_KINDS.join(', ')}` })
  .meta({ id: 'TaskKind' });

export const failure = z
  .object({
    code: z.string().describe("the provider's failure state or error code, or one of ours"),
    message: z.string(),
  })
  .meta({ id: 'Failure' });

/** A stored copy of one of the task's files. */
export const storedAsset = z
  .object({
    id: z.string(),
    type: z.string().describe('audio, stream, image, stem, wav, video or cover'),
    name: z.string(),
    trackId: z.string().optional(),
    sourceUrl: z.string().describe('where the provider served it'),
    path: z.string().describe('where our copy is (a file path or s3://bucket/key)'),
    bytes: z.number().int().nonnegative(),
    sha256: z.string(),
    url: z.string().describe('where the API serves our copy: GET /v1/assets/{assetId}'),
    contentType: z.string().optional().describe('probed from our copy, not taken from the provider'),
    durationSeconds: z.number().optional(),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
  })
  .meta({ id: 'StoredAsset' });

export const callbackPhase = z.enum(['text', 'first', 'complete', 'error']).meta({ id: 'CallbackPhase' });

export const receipt = z
  .object({
    callbackType: callbackPhase,
    receivedAt: isoTime,
    duplicate: z.boolean(),
  })
  .meta({ id: 'Receipt' });

export const pollRecord = z
  .object({
    at: isoTime,
    reason: z.enum(['timer', 'confirm']).describe('a fallback poll, or the query confirming a callback'),
    status: z.string().optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'Poll' });

export const providerCall = z
  .object({
    purpose: z.enum(['confirm', 'poll']),
    queuedAt: isoTime.describe("when the call joined the queue of the provider's rate budget"),
  })
  .meta({ id: 'ProviderCall' });

export const notification = z
  .object({
    event: z.enum(['task.ready', 'task.failed', 'task.timed_out', 'task.cancelled']),
    webhookId: z.string().describe('the `webhook-id` every delivery attempt carries'),
    url: z.string().describe('the notification URL, without its query string'),
    status: z.enum(['delivering', 'delivered', 'failed']),
    deliveredAt: isoTime.optional(),
    error: failure.optional().describe('why it was given up'),
  })
  .meta({ id: 'Notification' });

export const lyricsText = z.object({ title: z.string().optional(), text: z.string() }).meta({ id: 'Lyrics' });

export const taskView = z
  .object({
    taskId: z.string(),
    workflowId: z.string(),
    kind: taskKind,
    summary: z.string().optional(),
    status: z.string().describe("the provider's state name, or TIMED_OUT / CANCELLED"),
    ready: z.boolean().describe('SUCCESS confirmed by a query and every asset stored'),
    submittedAt: isoTime,
    updatedAt: isoTime,
    assets: z.array(storedAsset),
    lyrics: z.array(lyricsText).optional(),
    receipts: z.array(receipt).describe('the latest callbacks of each phase'),
    receiptCounts: z.object({
      total: z.number().int(),
      duplicates: z.number().int(),
      byPhase: z.partialRecord(callbackPhase, z.number().int()),
    }),
    polls: z.array(pollRecord).describe('the latest provider queries'),
    pollCount: z.number().int(),
    nextPollAt: isoTime.optional(),
    providerCall: providerCall.optional().describe("set while the task waits for the provider's budget"),
    error: failure.optional(),
    notice: failure.optional().describe('something to know while the task runs'),
    notification: notification
      .optional()
      .describe('the terminal event delivered to notifyUrl (or NOTIFY_URL): delivering, delivered or failed'),
  })
  .meta({ id: 'TaskView' });

/** A row of `GET /v1/tasks`, from the search attributes (no query per task). */
export const taskSummary = z
  .object({
    taskId: z.string(),
    workflowId: z.string(),
    kind: z.string(),
    status: z.string(),
    ready: z.boolean(),
    startedAt: isoTime,
    closedAt: isoTime.optional(),
    title: z.string().optional(),
  })
  .meta({ id: 'TaskSummary' });

export const taskList = z.object({ tasks: z.array(taskSummary) }).meta({ id: 'TaskList' });

export const submitted = z
  .object({
    taskId: z.string(),
    workflowId: z.string(),
    kind: taskKind,
    status: z.literal('PENDING'),
    idempotencyKey: z.string(),
    submittedAt: isoTime,
  })
  .meta({ id: 'Submitted' });

export const queued = z
  .object({
    idempotencyKey: z.string(),
    kind: taskKind,
    status: z.literal('QUEUED'),
    submission: z.string().describe('GET it to follow the submission until it has its task id'),
  })
  .meta({ id: 'Queued' });

/** What `POST /v1/tasks` answers with 202. */
export const submitAnswer = z.union([submitted, queued]).meta({ id: 'SubmitAnswer' });

const submissionError = z.object({
  error: z.string(),
  message: z.string(),
  providerCode: z.number().int().nullable().optional(),
  providerMessage: z.string().optional(),
});

/** A submission by its idempotency key. */
export const submissionView = z
  .discriminatedUnion('status', [
    z.object({
      idempotencyKey: z.string(),
      status: z.literal('SUBMITTED'),
      kind: taskKind,
      taskId: z.string(),
      workflowId: z.string(),
      submittedAt: isoTime,
    }),
    z.object({
      idempotencyKey: z.string(),
      status: z.literal('QUEUED'),
      kind: taskKind,
      queuedAt: isoTime,
      attempts: z.number().int().describe("sends tried so far (each waited for the provider's budget)"),
      lastError: z.string().optional(),
    }),
    z.object({
      idempotencyKey: z.string(),
      status: z.enum(['REJECTED', 'FAILED']),
      kind: taskKind,
      error: submissionError,
    }),
  ])
  .meta({ id: 'Submission' });

export const tracked = z
  .object({
    taskId: z.string(),
    workflowId: z.string(),
    kind: taskKind,
    status: z.string(),
    callbackUrl: z.string().describe('a callback URL that informs this task only'),
  })
  .meta({ id: 'Tracked' });

export const cancelled = z
  .object({
    taskId: z.string(),
    workflowId: z.string(),
    status: z.enum(['CANCELLING', 'CANCELLED']),
  })
  .meta({ id: 'Cancelled' });

export const callbackAck = z
  .object({ status: z.enum(['accepted', 'ignored_task_closed']), taskId: z.string() })
  .meta({ id: 'CallbackAck' });

/** A stored copy as the library shows it: where to fetch it, not where it sits. */
export const libraryAsset = storedAsset.omit({ path: true }).extend({ taskId: z.string() }).meta({
  id: 'LibraryAsset',
});

export const track = z
  .object({
    id: z.string(),
    taskId: z.string(),
    kind: taskKind,
    title: z.string().optional(),
    tags: z.array(z.string()),
    prompt: z.string().optional(),
    modelName: z.string().optional(),
    durationSeconds: z.number().optional(),
    createdAt: z.string().optional(),
    cataloguedAt: isoTime,
    assets: z.array(libraryAsset),
  })
  .meta({ id: 'Track' });

export const trackPage = z
  .object({ tracks: z.array(track), nextCursor: z.string().optional().describe('absent on the last page') })
  .meta({ id: 'TrackPage' });

export const providerPace = z
  .object({
    simulated: z.boolean(),
    timeScale: z.number(),
    timelines: z.partialRecord(
      taskKind,
      z.array(
        z.object({ name: z.enum(['text', 'first', 'complete']), status: z.string(), atMs: z.number() }),
      ),
    ),
  })
  .meta({ id: 'ProviderPace' });

export const health = z.object({ status: z.string() }).meta({ id: 'Health' });

/** Every error: a stable `error` code and a message; some codes carry more, named here. */
export const errorBody = z
  .object({
    error: z.string().describe('a stable code, e.g. task_not_found'),
    message: z.string(),
    problems: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('invalid_input: every problem at once'),
    fields: z
      .object({ required: z.array(z.string()), optional: z.array(z.string()) })
      .optional()
      .describe("invalid_input: the kind's fields"),
    providerCode: z
      .number()
      .int()
      .nullable()
      .optional()
      .describe("a provider rejection: the provider's code"),
    providerMessage: z.string().optional(),
    idempotencyKey: z.string().optional(),
    status: z.string().optional(),
    ready: z.boolean().optional(),
  })
  .meta({ id: 'Error' });

export type TaskView = z.infer<typeof taskView>;
export type StoredAssetView = z.infer<typeof storedAsset>;
export type TaskSummary = z.infer<typeof taskSummary>;
export type SubmitAnswer = z.infer<typeof submitAnswer>;
export type SubmissionView = z.infer<typeof submissionView>;
export type Tracked = z.infer<typeof tracked>;
export type Cancelled = z.infer<typeof cancelled>;
export type TrackView = z.infer<typeof track>;
export type TrackPage = z.infer<typeof trackPage>;
export type ProviderPace = z.infer<typeof providerPace>;
export type ErrorBody = z.infer<typeof errorBody>;

/** The error statuses a route may answer, each with the error body. */
export function errors<const Status extends number>(...statuses: Status[]): Record<Status, typeof errorBody> {
  return Object.fromEntries(statuses.map((status) => [status, errorBody])) as Record<
    Status,
    typeof errorBody
  >;
}
