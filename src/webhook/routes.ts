import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CallbackValidationError, parseCallback } from '../provider/callback.ts';
import { isTaskKind } from '../provider/kinds.ts';
import { deliverCallback, trackingSettings } from '../temporal/tasks.ts';
import { HttpError } from '../httpErrors.ts';
import { tokenMatches } from './token.ts';

/** Callbacks are small JSON documents; anything bigger is refused before it is parsed. */
export const CALLBACK_BODY_LIMIT = 256 * 1024;
/** The provider waits 10–15 s for an answer: give up on Temporal well before that. */
const SIGNAL_DEADLINE_MS = 5_000;

/**
 * `POST /webhooks/music/:kind?token=…`: checks the token before anything else, parses the body with
 * the provider's callback parser, and answers 2xx only once Temporal has accepted the signal.
 */
export async function webhookRoutes(app: FastifyInstance): Promise<void> {
  const { client, metrics, webhookSecrets } = app.deps;
  const settings = trackingSettings(app.config);

  app.post<{ Params: { kind: string }; Querystring: { token?: string } }>(
    '/webhooks/music/:kind',
    {
      bodyLimit: CALLBACK_BODY_LIMIT,
      // onRequest runs before the body is read: a forged callback costs us no parsing.
      onRequest: async (request) => {
        if (!tokenMatches(request.query.token, webhookSecrets)) {
          metrics.callbacks.labels(request.params.kind, 'unknown', 'unauthorized').inc();
          throw new HttpError(401, 'unauthorized', 'the callback token is missing or wrong');
        }
        if (!isTaskKind(request.params.kind)) {
          throw new HttpError(404, 'unknown_kind', `no task kind "${request.params.kind}"`);
        }
      },
    },
    async (request, reply) => {
      const kind = request.params.kind;
      if (!isTaskKind(kind)) throw new HttpError(404, 'unknown_kind', `no task kind "${kind}"`);
      let callback;
      try {
        callback = parseCallback(kind, request.body);
      } catch (error) {
        if (!(error instanceof CallbackValidationError)) throw error;
        metrics.callbacks.labels(kind, 'unknown', 'invalid').inc();
        throw new HttpError(400, 'invalid_callback', error.message);
      }
      const receipt = {
        receivedAt: new Date().toISOString(),
        bodyHash: createHash('sha256').update(JSON.stringify(request.body)).digest('hex'),
      };
      const timer = metrics.signalLatency.startTimer();
      let delivered: boolean;
      try {
        delivered = await client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () =>
          deliverCallback(client, settings, { callback, receipt }),
        );
      } catch (error) {
        timer({ outcome: 'error' });
        metrics.callbacks.labels(kind, callback.phase, 'temporal_unavailable').inc();
        request.log.warn({ err: error, taskId: callback.taskId }, 'could not signal the task workflow');
        throw new HttpError(503, 'temporal_unavailable', 'the callback was not recorded; retry later');
      }
      timer({ outcome: delivered ? 'signalled' : 'closed' });
      const outcome = delivered ? 'signalled' : 'task_closed';
      metrics.callbacks.labels(kind, callback.phase, outcome).inc();
      request.log.info({ taskId: callback.taskId, phase: callback.phase, outcome }, 'callback');
      return reply
        .code(200)
        .send({ status: delivered ? 'accepted' : 'ignored_task_closed', taskId: callback.taskId });
    },
  );
}
