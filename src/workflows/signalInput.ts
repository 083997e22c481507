import { CallbackValidationError, parseCallback } from '../provider/callback.ts';
import type { TaskKind } from '../provider/kinds.ts';
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
 * @returns the signal to record, or an error message
 */
export function readCallbackSignal(
  payload: unknown,
  kind: TaskKind,
  receivedAt: string,
): CallbackSignal | string {
  if (isCallbackSignal(payload)) return payload;
  try {
    return {
      callback: parseCallback(kind, payload),
      receipt: { receivedAt, bodyHash: fingerprint(JSON.stringify(payload) ?? '') },
    };
  } catch (error) {
    if (error instanceof CallbackValidationError) return error.message;
    return `unreadable callback signal: ${String(error)}`;
  }
}
