import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { KIND_ROUTES, type QueryRoute, TASK_KINDS, type TaskKind } from '../provider/kinds.ts';
import { type Engine, type TransientFault } from './engine.ts';
import { type RateLimiter } from './rate-limit.ts';
import { envelope, type Envelope, queryData } from './shapes.ts';
import { type SimStats } from './stats.ts';
import { checkSubmission } from './submission.ts';

export interface ProviderRoutesOptions {
  engine: Engine;
  stats: SimStats;
  /** Undefined: any non-empty bearer key is accepted. */
  apiKey: string | undefined;
  limiter: RateLimiter | undefined;
}

const TRANSIENT_MESSAGES: Readonly<Record<TransientFault['code'], string>> = {
  405: 'Frequency limit exceeded. Please try again later.',
  430: 'Your call frequency is too high. Please try again later.',
  455: 'The system is under maintenance. Please try again later.',
  500: 'Server error. Please try again later.',
};

/** How long the provider asks a client to wait after each transient error, unscaled. */
const TRANSIENT_RETRY_AFTER_MS: Readonly<Record<TransientFault['code'], number>> = {
  405: 2_000,
  430: 1_000,
  455: 30_000,
  500: 2_000,
};

/** What each answer said, for the stats hook: the envelope code often differs from the HTTP status. */
const answered = new WeakMap<FastifyRequest, { code: number; taskId?: string }>();

function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  body: Envelope,
  httpStatus = 200,
  taskId?: string,
) {
  answered.set(request, { code: body.code, taskId });
  return reply.code(httpStatus).send(body);
}

/**
 * Gateway refusals (401, 430) come as the HTTP status; the application's own errors come as the
 * envelope code with HTTP 200, except transient faults, which the seed sends either way.
 */
function answerTransient(
  request: FastifyRequest,
  reply: FastifyReply,
  fault: TransientFault,
  timeScale: number,
) {
  const body = envelope(fault.code, TRANSIENT_MESSAGES[fault.code]);
  // The provider's waits, scaled like every other simulated delay (whole seconds, as HTTP says).
  const retryAfter = Math.max(1, Math.ceil((TRANSIENT_RETRY_AFTER_MS[fault.code] * timeScale) / 1000));
  reply.header('retry-after', String(retryAfter));
  if (fault.code === 430) return answer(request, reply, body, 430);
  return answer(request, reply, body, fault.asHttpStatus ? fault.code : 200);
}

function bearerKey(header: string | undefined): string | undefined {
  const key = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();
  return key || undefined;
}

/** The provider's submit and query routes, behind its key check and rate limit. */
export function providerRoutes(app: FastifyInstance, options: ProviderRoutesOptions, done: () => void): void {
  const { engine, stats, apiKey, limiter } = options;

  app.addHook('onRequest', async (request, reply) => {
    const key = bearerKey(request.headers.authorization);
    if (!key || (apiKey !== undefined && key !== apiKey)) {
      return answer(request, reply, envelope(401, 'Authentication failed. Please check your API key.'), 401);
    }
    const waitSeconds = limiter?.take(key) ?? 0;
    if (waitSeconds > 0) {
      reply.header('retry-after', String(waitSeconds));
      return answer(request, reply, envelope(430, TRANSIENT_MESSAGES[430]), 430);
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const said = answered.get(request);
    const queried = (request.query as { taskId?: unknown } | undefined)?.taskId;
    const taskId =
      said?.taskId ?? (typeof queried === 'string' && engine.tasks.has(queried) ? queried : undefined);
    stats.countRequest(
      `${request.method} ${request.routeOptions.url ?? request.url}`,
      said?.code ?? reply.statusCode,
      taskId,
    );
  });

  for (const kind of TASK_KINDS) {
    app.post(KIND_ROUTES[kind].submit, async (request, reply) => submit(kind, request, reply));
  }
  for (const route of new Set(TASK_KINDS.map((kind) => KIND_ROUTES[kind].query))) {
    app.get(route, async (request, reply) => query(route, request, reply));
  }
  done();

  function submit(kind: TaskKind, request: FastifyRequest, reply: FastifyReply) {
    const check = checkSubmission(kind, request.body);
    if (!check.ok) return answer(request, reply, envelope(check.code, check.msg));
    const covered = kind === 'cover-art' ? engine.coverFor(String(check.body.taskId)) : undefined;
    if (covered) {
      const msg = 'Cover art has already been generated for this task.';
      return answer(request, reply, envelope(400, msg, { taskId: covered.id }));
    }
    const baseUrl = `${request.protocol}://${request.host}`;
    const result = engine.submit(kind, check.body, check.callBackUrl, baseUrl);
    switch (result.outcome) {
      case 'quota-exhausted':
        return answer(request, reply, envelope(429, 'The current credits are insufficient.'));
      case 'transient':
        return answerTransient(request, reply, result.fault, engine.timeScale);
      case 'created':
        return answer(
          request,
          reply,
          envelope(200, 'success', { taskId: result.task.id }),
          200,
          result.task.id,
        );
    }
  }

  function query(route: QueryRoute, request: FastifyRequest, reply: FastifyReply) {
    const { taskId } = request.query as { taskId?: unknown };
    if (typeof taskId !== 'string' || !taskId)
      return answer(request, reply, envelope(400, 'taskId is required.'));
    const task = engine.tasks.get(taskId);
    // A task asked for on another kind's route is as unknown there as a made-up id.
    if (!task || KIND_ROUTES[task.kind].query !== route) {
      return answer(request, reply, envelope(404, 'Task not found'));
    }
    const fault = engine.queryFault(task);
    if (fault) return answerTransient(request, reply, fault, engine.timeScale);
    return answer(request, reply, envelope(200, 'success', queryData(task)), 200, task.id);
  }
}
