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

/** The phase a name stands for; own keys only (a body may say `constructor`). */
const phaseNamed = (name: string): CallbackPhase | undefined =>
  Object.hasOwn(PHASES, name) ? PHASES[name] : undefined;

type Body = Record<string, unknown>;
const isBody = (value: unknown): value is Body =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Longest text kept from a signal: nothing a sender writes can grow the state or history past it. */
const MAX_FIELD = 256;
const clip = (text: string) => text.slice(0, MAX_FIELD);

function isCallbackSignal(value: unknown): value is CallbackSignal {
  const candidate = value as Partial<CallbackSignal> | null;
  return (
    typeof candidate?.callback?.phase === 'string' &&
    typeof candidate.callback.taskId === 'string' &&
    typeof candidate.receipt?.bodyHash === 'string' &&
    typeof candidate.receipt.receivedAt === 'string'
  );
}

/** The webhook's signal rebuilt field by field: only what the workflow reads, each field clipped. */
function slim(signal: CallbackSignal, kind: TaskKind): CallbackSignal | string {
  const { callback, receipt } = signal;
  const phase = phaseNamed(callback.phase);
  if (!phase) return `unknown callback phase "${clip(callback.phase)}"`;
  return {
    callback: {
      taskId: clip(callback.taskId),
      kind: typeof callback.kind === 'string' ? (clip(callback.kind) as TaskKind) : kind,
      phase,
      code: typeof callback.code === 'number' ? callback.code : 200,
      ...(typeof callback.nonce === 'string' ? { nonce: clip(callback.nonce) } : {}),
    },
    receipt: { receivedAt: clip(receipt.receivedAt), bodyHash: clip(receipt.bodyHash) },
  };
}

/** Who a musicTask workflow takes callbacks for: its task, its kind, and the nonces it was tracked with. */
export interface CallbackAudience {
  taskId: string;
  kind: TaskKind;
  nonces: readonly string[];
}

/**
 * Why a well-formed callback is not this task's to record, or undefined when it is: a callback
 * only ever informs its own task, of its own kind, through a URL issued for that task.
 */
export function refusalOf(signal: CallbackSignal, audience: CallbackAudience): string | undefined {
  const { callback } = signal;
  if (callback.taskId !== audience.taskId) return `the callback names task "${callback.taskId}"`;
  if (callback.kind !== audience.kind) return `a ${callback.kind} callback for a ${audience.kind} task`;
  if (callback.nonce !== undefined && !audience.nonces.includes(callback.nonce)) {
    return 'the callback came through a URL issued for another task';
  }
  return undefined;
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
  if (isCallbackSignal(payload)) return slim(payload, kind);
  if (!isBody(payload)) return 'a callback signal must be an object';
  const wrapped = payload.task_id === undefined && payload.taskId === undefined && isBody(payload.data);
  const body = wrapped ? (payload.data as Body) : payload;
  const taskId = body.task_id ?? body.taskId;
  if (typeof taskId !== 'string' || !taskId) return 'the callback carries no task_id';
  if (taskId.length > MAX_FIELD) return 'the callback task_id is too long';
  const code = typeof payload.code === 'number' ? payload.code : 200;
  const declared = typeof body.callbackType === 'string' ? body.callbackType.trim().toLowerCase() : undefined;
  let phase = declared === undefined ? undefined : phaseNamed(declared);
  if (declared !== undefined && !phase) return `unknown callbackType "${clip(declared)}"`;
  if (code !== 200 || (!declared && typeof body.error === 'string')) phase = 'error';
  return {
    callback: { taskId, kind, phase: phase ?? 'complete', code },
    receipt: { receivedAt, bodyHash: fingerprint(JSON.stringify(payload)) },
  };
}
