import { z } from 'zod';
import { CALLBACK_EXCEPTION, KIND_ROUTES, isFailureStatus, SUCCESS_STATUS, type TaskKind } from './kinds.ts';
import {
  camelizeKeys,
  describeIssue,
  dropUndefined,
  isFinishedResult,
  normalizeTimestamp,
  readResult,
} from './normalize.ts';
import type { ProviderSnapshot } from './types.ts';

const queryDataSchema = z.looseObject({
  taskId: z.union([z.string().min(1), z.number()]).transform(String),
  status: z.union([z.string(), z.number()]).nullish(),
  successFlag: z.union([z.string(), z.number()]).nullish(),
  errorCode: z.union([z.string(), z.number()]).nullish(),
  errorMessage: z.string().nullish(),
  createTime: z.unknown().optional(),
  response: z.looseObject({}).nullish(),
});

/** Raised when a query answer cannot be read at all (the provider changed shape). */
export class SnapshotParseError extends Error {
  override readonly name = 'SnapshotParseError';
}

/**
 * The provider's state name from `status` or `successFlag`, as a name or a number
 * (`1` done, `0` still running).
 */
export function normalizeStatus(status: unknown, successFlag: unknown): string {
  const raw = status ?? successFlag;
  if (raw === 1 || raw === '1') return SUCCESS_STATUS;
  if (raw === 0 || raw === '0' || raw === null || raw === undefined || raw === '') return 'PENDING';
  return (typeof raw === 'string' ? raw : JSON.stringify(raw)).trim().toUpperCase();
}

/**
 * Reads the `data` of a query answer, whatever its drift, into one snapshot.
 * `onUnknownStatus` hears about states the client does not know (they are treated as not terminal).
 */
export function parseSnapshot(
  kind: TaskKind,
  data: unknown,
  onUnknownStatus?: (status: string) => void,
): ProviderSnapshot {
  const parsed = queryDataSchema.safeParse(camelizeKeys(data));
  if (!parsed.success) throw new SnapshotParseError(describeIssue(parsed.error, 'data'));
  const body = parsed.data;
  const status = normalizeStatus(body.status, body.successFlag);
  const failed = isFailureStatus(status);
  const known =
    failed ||
    status === CALLBACK_EXCEPTION ||
    ['PENDING', 'TEXT_SUCCESS', 'FIRST_SUCCESS', 'SUCCESS'].includes(status);
  if (!known) onUnknownStatus?.(status);
  const result = readResult(KIND_ROUTES[kind].result, body.response ?? {});
  if (result instanceof z.ZodError) throw new SnapshotParseError(describeIssue(result, 'data.response'));
  const error =
    failed || body.errorMessage
      ? {
          code: failed ? status : String(body.errorCode ?? status),
          message: body.errorMessage ?? (failed ? status : ''),
        }
      : undefined;
  return dropUndefined({
    taskId: body.taskId,
    kind,
    status,
    terminal: status === SUCCESS_STATUS || failed,
    failed,
    result,
    finished: isFinishedResult(kind, result),
    error: failed ? error : undefined,
    createdAt: normalizeTimestamp(body.createTime),
  });
}
