/**
 * The one error handler: domain errors of the task layer, HTTP-level refusals and Fastify's own
 * errors become `{error, message, …}` with a stable code and the status this table gives.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { isResponseSerializationError } from 'fastify-type-provider-zod';
import { HttpError } from '../httpErrors.ts';
import { TaskError, type TaskErrorCode } from '../tasks/errors.ts';

/** The HTTP status of each domain error. */
export const TASK_ERROR_STATUS: Readonly<Record<TaskErrorCode, number>> = {
  task_not_found: 404,
  submission_not_found: 404,
  kind_mismatch: 409,
  task_already_finished: 409,
  provider_rejected: 422,
  provider_quota_exhausted: 429,
  provider_auth_failed: 502,
  submission_failed: 503,
  submit_deadline_exceeded: 503,
};

/** Fastify's own error codes, as the stable codes this service answers with. */
const FASTIFY_ERROR_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_VALIDATION: 'invalid_request',
};

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError | TaskError, request, reply) => {
    if (error instanceof TaskError) {
      return reply
        .code(TASK_ERROR_STATUS[error.code])
        .send({ error: error.code, message: error.message, ...error.details });
    }
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, ...error.extra });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500 || isResponseSerializationError(error)) {
      // A response that breaks its declared schema is our bug: logged, never sent.
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send({ error: 'internal_error', message: 'internal error; see the server log' });
    }
    const code =
      (error.code && FASTIFY_ERROR_CODES[error.code]) ??
      (error.validation ? 'invalid_request' : 'bad_request');
    return reply.code(status).send({ error: code, message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
