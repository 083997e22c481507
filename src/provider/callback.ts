import { z } from 'zod';
import { KIND_ROUTES, type TaskKind } from './kinds.ts';
import { isFields, readEnvelope } from './callbackEnvelope.ts';
import { camelizeKeys, describeIssue, dropUndefined, isFinishedResult, readResult } from './normalize.ts';
import type { NormalizedCallback } from './types.ts';

/** A callback body we cannot read; the message says which field is wrong. */
export class CallbackValidationError extends Error {
  override readonly name = 'CallbackValidationError';
}

const bodySchema = z.looseObject({
  callbackType: z.string().nullish(),
  taskId: z.union([z.string().trim().min(1), z.number()], { error: 'expected a string' }).transform(String),
  code: z.number().int().nullish(),
  msg: z.string().nullish(),
  error: z.string().nullish(),
  errorMessage: z.string().nullish(),
});

/**
 * Parses a provider callback of either shape: bare (`{callbackType, task_id, data}`) or wrapped in
 * the envelope (`{code, msg, data: {callbackType, task_id, …}}`). Non-song kinds often send no
 * `callbackType`: a body that carries the finished result is their completion.
 * @throws CallbackValidationError naming the first field that is wrong
 */
export function parseCallback(kind: TaskKind, raw: unknown): NormalizedCallback {
  if (!isFields(raw)) throw new CallbackValidationError('body: expected a JSON object');
  const envelope = readEnvelope(raw);
  const inner = camelizeKeys(envelope.inner) as Record<string, unknown>;
  const prefix = envelope.wrapped ? 'data' : 'body';
  if (envelope.taskId === undefined) {
    throw new CallbackValidationError(`${prefix}.task_id: required (the provider's task id)`);
  }
  const parsed = bodySchema.safeParse(inner);
  if (!parsed.success) throw new CallbackValidationError(describeIssue(parsed.error, prefix));
  if (
    envelope.wrapped &&
    envelope.code !== undefined &&
    envelope.code !== null &&
    typeof envelope.code !== 'number'
  ) {
    throw new CallbackValidationError('code: expected a number');
  }
  const code = typeof envelope.code === 'number' ? envelope.code : 200;
  const message = envelope.wrapped && typeof raw.msg === 'string' ? raw.msg : (parsed.data.msg ?? undefined);

  const items = Array.isArray(inner.data) ? inner.data : undefined;
  if (inner.data !== undefined && inner.data !== null && !items) {
    throw new CallbackValidationError(`${prefix}.data: expected an array`);
  }
  const result = readResult(KIND_ROUTES[kind].result, inner, items ?? null);
  if (result instanceof z.ZodError)
    throw new CallbackValidationError(describeIssue(result, `${prefix}.data`));

  if (envelope.phase === 'unknown') {
    throw new CallbackValidationError(
      `${prefix}.callbackType: expected one of text, first, complete, error, got "${parsed.data.callbackType}"`,
    );
  }
  let phase = envelope.phase;
  if (!phase) {
    if (!isFinishedResult(kind, result)) {
      throw new CallbackValidationError(
        `${prefix}: no callbackType and no finished ${KIND_ROUTES[kind].result} result for a ${kind} task`,
      );
    }
    phase = 'complete';
  }
  const errorText = parsed.data.error ?? parsed.data.errorMessage ?? undefined;
  return dropUndefined({
    taskId: parsed.data.taskId,
    kind,
    phase,
    code,
    message,
    result,
    error:
      phase === 'error'
        ? { code: String(code), message: errorText ?? message ?? 'provider reported a failure' }
        : undefined,
  });
}
