import type { FastifyInstance } from 'fastify';
import { CallbackValidationError, parseCallback } from '../provider/callback.ts';
import { isTaskKind, type TaskKind } from '../provider/kinds.ts';
import { isProviderTaskId } from '../provider/taskId.ts';
import * as contract from '../contract/schemas.ts';
import { callbackKey } from '../provider/callbackEnvelope.ts';
import { nonceSubject } from '../workflows/callbackNonce.ts';
import type { CallbackSignal } from '../workflows/definitions.ts';
import { HttpError } from '../httpErrors.ts';
import { assertJsonBounds } from './boundedJson.ts';
import { tokenMatches, verifyCallbackQuery, type CallbackProof } from './token.ts';

/** Callbacks are small JSON documents; anything bigger is refused before it is parsed. */
export const CALLBACK_BODY_LIMIT = 256 * 1024;
/** The provider waits 10–15 s for an answer: give up on Temporal well before that. */
const SIGNAL_DEADLINE_MS = 5_000;

declare module 'fastify' {
  interface FastifyRequest {
    callbackProof?: CallbackProof;
  }
}

/**
 * `POST /webhooks/music/:kind?nonce=…&sig=…` (or the operator's `?token=<secret>`): checks the proof
 * before anything else, bounds and parses the body, and answers 2xx only once Temporal has accepted
 * the signal. A signed nonce informs its own task only.
 */
export async function webhookRoutes(app: FastifyInstance): Promise<void> {
  const { metrics, tasks, webhookSecrets } = app.deps;
  const jsonParser = app.getDefaultJsonParser('error', 'error');

  // Depth and string lengths are checked on the text, before any parser recursion.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      assertJsonBounds(body as string);
    } catch (error) {
      return done(error as Error, undefined);
    }
    void jsonParser(request, body as string, done);
  });

  app.post<{ Params: { kind: string }; Querystring: Record<string, unknown> }>(
    '/webhooks/music/:kind',
    {
      bodyLimit: CALLBACK_BODY_LIMIT,
      schema: {
        summary: "The provider's callback",
        description:
          "The callback URL handed to the provider carries its proof (`?nonce=…&sig=…`, or the operator's " +
          '`?token=…`). 200 once Temporal has the signal; a callback for a closed task is acknowledged and ' +
          'recorded nowhere.',
        tags: ['webhooks'],
        response: { 200: contract.callbackAck, ...contract.errors(400, 401, 403, 404, 413, 415, 503) },
      },
      // onRequest runs before the body is read: a forged callback costs us no parsing.
      onRequest: async (request) => {
        const kind = request.params.kind;
        if (!isTaskKind(kind)) {
          metrics.callbacks.labels('invalid', 'unknown', 'unknown_kind').inc();
          if (!tokenMatches(request.query.token, webhookSecrets)) {
            throw new HttpError(401, 'unauthorized', 'the callback token is missing or wrong');
          }
          throw new HttpError(404, 'unknown_kind', `no task kind "${kind.slice(0, 40)}"`);
        }
        const proof = verifyCallbackQuery(request.query, kind, webhookSecrets);
        if (!proof) {
          metrics.callbacks.labels(kind, 'unknown', 'unauthorized').inc();
          throw new HttpError(401, 'unauthorized', 'the callback token is missing or wrong');
        }
        request.callbackProof = proof;
      },
    },
    async (request, reply) => {
      const kind = request.params.kind as TaskKind;
      const proof = request.callbackProof!;
      let callback;
      try {
        callback = parseCallback(kind, request.body);
      } catch (error) {
        if (!(error instanceof CallbackValidationError)) throw error;
        metrics.callbacks.labels(kind, 'unknown', 'invalid').inc();
        throw new HttpError(400, 'invalid_callback', error.message);
      }
      if (!isProviderTaskId(callback.taskId)) {
        metrics.callbacks.labels(kind, callback.phase, 'invalid').inc();
        throw new HttpError(400, 'invalid_task_id', 'task_id: 1 to 128 letters, digits, . _ : -');
      }
      const subject = proof.by === 'nonce' ? nonceSubject(proof.nonce) : undefined;
      if (proof.by === 'nonce' && (!subject || ('task' in subject && subject.task !== callback.taskId))) {
        metrics.callbacks.labels(kind, callback.phase, 'refused').inc();
        throw new HttpError(403, 'callback_task_mismatch', 'this callback URL was issued for another task');
      }
      // Only what the workflow reads goes into its history: no result, no free text.
      const signal: CallbackSignal = {
        callback: {
          taskId: callback.taskId,
          kind,
          phase: callback.phase,
          code: callback.code,
          ...(proof.by === 'nonce' ? { nonce: proof.nonce } : {}),
        },
        receipt: {
          receivedAt: new Date().toISOString(),
          // The same key the workflow gives the same body signalled raw: one body, one receipt.
          bodyHash: callbackKey(request.body),
        },
      };
      const timer = metrics.signalLatency.startTimer();
      let delivered: boolean;
      try {
        delivered = subject
          ? await tasks.deliverToTracked(
              signal,
              'submission' in subject ? subject.submission : undefined,
              SIGNAL_DEADLINE_MS,
            )
          : await tasks.deliverCallback(signal, SIGNAL_DEADLINE_MS);
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
