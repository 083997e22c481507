import { callbackKey, isFields, phaseNamed, readEnvelope } from '../provider/callbackEnvelope.ts';
import type { TaskKind } from '../provider/kinds.ts';
import type { CallbackSignal } from './state.ts';

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
  if (!isFields(payload)) return 'a callback signal must be an object';
  const envelope = readEnvelope(payload);
  const taskId = envelope.taskId;
  if (typeof taskId !== 'string' || !taskId) return 'the callback carries no task_id';
  if (taskId.length > MAX_FIELD) return 'the callback task_id is too long';
  if (envelope.phase === 'unknown') return `unknown callbackType "${clip(String(envelope.callbackType))}"`;
  return {
    callback: {
      taskId,
      kind,
      phase: envelope.phase ?? 'complete',
      code: typeof envelope.code === 'number' ? envelope.code : 200,
    },
    receipt: { receivedAt, bodyHash: callbackKey(payload) },
  };
}
