import type { TaskKind } from '../provider/kinds.ts';
import type { CallbackPhase } from '../provider/types.ts';
import type { CallbackSignal } from './state.ts';

/** FNV-1a over the text: a deterministic body fingerprint (no crypto in the workflow sandbox). */
export function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return `fnv1a-${(hash >>> 0).toString(16).padStart(8, '0')}-${text.length}`;
}

const PHASES: Record<string, CallbackPhase> = {
  text: 'text',
  first: 'first',
  complete: 'complete',
  error: 'error',
  failed: 'error',
};

type Body = Record<string, unknown>;
const isBody = (value: unknown): value is Body =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function isCallbackSignal(value: unknown): value is CallbackSignal {
  const candidate = value as Partial<CallbackSignal> | null;
  return (
    typeof candidate?.callback?.phase === 'string' &&
    typeof candidate.callback.taskId === 'string' &&
    typeof candidate.receipt?.bodyHash === 'string' &&
    typeof candidate.receipt.receivedAt === 'string'
  );
}

/**
 * The webhook signals `{callback, receipt}`; anyone scripting against the contract may signal the
 * provider's raw callback body instead. Both are accepted; anything else is refused here, so a bad
 * signal can never fail the workflow task.
 *
 * A raw body is read for its phase only: its result is never trusted anyway (a `complete` or
 * `error` asks for a confirming query). Reading no more keeps the schema library, and its memory
 * in every cached workflow, out of the workflow sandbox.
 * @returns the signal to record, or why it was refused
 */
export function readCallbackSignal(
  payload: unknown,
  kind: TaskKind,
  receivedAt: string,
): CallbackSignal | string {
  if (isCallbackSignal(payload)) return payload;
  if (!isBody(payload)) return 'a callback signal must be an object';
  const wrapped = payload.task_id === undefined && payload.taskId === undefined && isBody(payload.data);
  const body = wrapped ? (payload.data as Body) : payload;
  const taskId = body.task_id ?? body.taskId;
  if (typeof taskId !== 'string' || !taskId) return 'the callback carries no task_id';
  const code = typeof payload.code === 'number' ? payload.code : 200;
  const declared = typeof body.callbackType === 'string' ? body.callbackType.trim().toLowerCase() : undefined;
  let phase = declared === undefined ? undefined : PHASES[declared];
  if (declared !== undefined && !phase) return `unknown callbackType "${declared}"`;
  if (code !== 200 || (!declared && typeof body.error === 'string')) phase = 'error';
  return {
    callback: { taskId, kind, phase: phase ?? 'complete', code, result: {} },
    receipt: { receivedAt, bodyHash: fingerprint(JSON.stringify(payload)) },
  };
}
