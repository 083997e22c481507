import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../httpErrors.ts';
import { requireApiToken } from './auth.ts';
import {
  describeInput,
  findTextOverLimit,
  inputProblems,
  KIND_INPUTS,
  kindFields,
} from '../provider/inputs.ts';
import type { TaskKind } from '../provider/kinds.ts';
import { taskNonce } from '../workflows/callbackNonce.ts';
import { musicTaskWorkflowId } from '../workflows/definitions.ts';
import { isProviderTaskId } from '../provider/taskId.ts';
import { callbackUrlFor } from '../webhook/token.ts';
import * as contract from '../contract/schemas.ts';
import { ProviderRejected, TaskError } from '../tasks/errors.ts';
import { notifyPolicyFor } from '../notifications/policy.ts';
import { checkNotifyUrl, notifyUrlSchema } from './notifyUrl.ts';

const taskIdParams = z.object({
  taskId: z.string().trim().refine(isProviderTaskId, '1 to 128 letters, digits, . _ : -'),
});
const idempotencyKeySchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[\w.:-]+$/, 'letters, digits, . _ : -');
const kindSchema = contract.taskKind;

/**
 * Checks a submission's `input` against its kind's schema and the provider's documented limits,
 * so nothing the provider would refuse costs a call.
 */
export function validateInput(kind: TaskKind, input: unknown): Record<string, unknown> {
  const raw = (input ?? {}) as Record<string, unknown>;
  const problems = inputProblems(kind, raw);
  if (problems.length) {
    const fields = kindFields(kind);
    throw new HttpError(
      400,
      'invalid_input',
      `${problems.length} problem${problems.length === 1 ? '' : 's'} with the ${kind} input: ` +
        problems.map((problem) => `${problem.field}: ${problem.message}`).join('; '),
      { problems, fields },
    );
  }
  const body = KIND_INPUTS[kind].parse(raw) as Record<string, unknown>;
  const over = findTextOverLimit(body);
  if (over) {
    // What the provider would answer (413), said before it costs a call.
    throw new ProviderRejected(
      'ProviderRejected',
      `input.${over.field} is ${over.length} characters; the limit is ${over.limit}`,
      413,
      { providerMessage: 'text too long' },
    );
  }
  return body;
}

/** The task API under `/v1`. With `API_TOKEN` set, every route needs `Authorization: Bearer <token>`. */
export async function taskRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { tasks, metrics } = app.deps;
  const notifyPolicy = notifyPolicyFor(app.config);
  requireApiToken(app);

  app.post(
    '/tasks',
    {
      schema: {
        summary: 'Submit a task',
        description:
          'Queues the submission durably and sends it within the provider budget. Answers with the task id ' +
          'when the provider answers within SUBMIT_WAIT, otherwise QUEUED with a route to follow it.',
        tags: ['tasks'],
        body: z.object({
          kind: kindSchema,
          input: z.record(z.string(), z.unknown()),
          idempotencyKey: idempotencyKeySchema.optional(),
          notifyUrl: notifyUrlSchema.optional(),
        }),
        response: { 202: contract.submitAnswer, ...contract.errors(400, 401, 413, 415, 422, 429, 502, 503) },
      },
    },
    async (request, reply) => {
      const { kind, idempotencyKey, notifyUrl } = request.body;
      let input;
      try {
        input = validateInput(kind, request.body.input);
        checkNotifyUrl(notifyPolicy, notifyUrl);
      } catch (error) {
        metrics.submissions.labels(kind, 'invalid').inc();
        throw error;
      }
      try {
        const submission = await tasks.submit(
          kind,
          input,
          idempotencyKey ?? randomUUID(),
          describeInput(input, kind),
          notifyUrl,
        );
        if (submission.status === 'QUEUED') {
          metrics.submissions.labels(kind, 'queued').inc();
          request.log.info({ idempotencyKey: submission.idempotencyKey }, 'submission queued');
          return reply.code(202).send({
            idempotencyKey: submission.idempotencyKey,
            kind,
            status: 'QUEUED',
            submission: `/v1/submissions/${encodeURIComponent(submission.idempotencyKey)}`,
          });
        }
        metrics.submissions.labels(kind, 'submitted').inc();
        request.log.info({ taskId: submission.taskId, workflowId: submission.workflowId }, 'task submitted');
        return reply.code(202).send({
          taskId: submission.taskId,
          workflowId: submission.workflowId,
          kind,
          status: 'PENDING',
          idempotencyKey: submission.idempotencyKey,
          submittedAt: submission.submittedAt,
        });
      } catch (error) {
        metrics.submissions.labels(kind, error instanceof TaskError ? error.code : 'error').inc();
        throw error;
      }
    },
  );

  app.get(
    '/submissions/:idempotencyKey',
    {
      schema: {
        summary: 'Follow a submission',
        description:
          'Queued (with the sends tried so far), submitted (with its task id), rejected or failed.',
        tags: ['tasks'],
        params: z.object({ idempotencyKey: idempotencyKeySchema }),
        response: { 200: contract.submissionView, ...contract.errors(400, 401, 404) },
      },
    },
    async (request) => tasks.submission(request.params.idempotencyKey),
  );

  app.put(
    '/tasks/:taskId',
    {
      schema: {
        summary: 'Track a task submitted elsewhere',
        description: 'Idempotent: 201 when tracking starts, 200 when the task was already tracked.',
        tags: ['tasks'],
        params: taskIdParams,
        body: z.object({ kind: kindSchema, notifyUrl: notifyUrlSchema.optional() }),
        response: { 200: contract.tracked, 201: contract.tracked, ...contract.errors(400, 401, 409, 415) },
      },
    },
    async (request, reply) => {
      const { taskId } = request.params;
      checkNotifyUrl(notifyPolicy, request.body.notifyUrl);
      const tracked = await tasks.track(taskId, request.body.kind, request.body.notifyUrl);
      return reply.code(tracked.created ? 201 : 200).send({
        taskId,
        workflowId: musicTaskWorkflowId(taskId),
        kind: tracked.kind,
        status: tracked.status,
        // For whoever submits the task elsewhere: a callback URL that informs this task only.
        callbackUrl: callbackUrlFor(
          app.config.publicBaseUrl,
          tracked.kind,
          app.deps.webhookSecrets[0]!,
          taskNonce(taskId),
        ),
      });
    },
  );

  app.get(
    '/tasks/:taskId',
    {
      schema: {
        summary: 'A task',
        description:
          "The task's current state: the workflow's own answer while it runs, its result once it closed.",
        tags: ['tasks'],
        params: taskIdParams,
        response: { 200: contract.taskView, ...contract.errors(400, 401, 404) },
      },
    },
    async (request) =>
      tasks.get(request.params.taskId, (taskId, error) =>
        request.log.warn({ taskId, err: error }, 'status query failed: answering from search attributes'),
      ),
  );

  app.get(
    '/tasks',
    {
      schema: {
        summary: 'Recent tasks',
        tags: ['tasks'],
        querystring: z.object({
          status: z
            .string()
            .trim()
            .regex(/^[A-Z_]+$/, 'a status name such as SUCCESS')
            .optional(),
          kind: kindSchema.optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: { 200: contract.taskList, ...contract.errors(400, 401) },
      },
    },
    async (request) => ({ tasks: await tasks.list(request.query) }),
  );

  app.delete(
    '/tasks/:taskId',
    {
      schema: {
        summary: 'Cancel tracking',
        description: '202 when cancelling now; 200 when it already was cancelled (nothing changes).',
        tags: ['tasks'],
        params: taskIdParams,
        response: {
          200: contract.cancelled,
          202: contract.cancelled,
          ...contract.errors(400, 401, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const { taskId } = request.params;
      const status = await tasks.cancel(taskId);
      // Cancelling a cancelled task again is a quiet success: 200, nothing changed.
      return reply
        .code(status === 'CANCELLING' ? 202 : 200)
        .send({ taskId, workflowId: musicTaskWorkflowId(taskId), status });
    },
  );
}
