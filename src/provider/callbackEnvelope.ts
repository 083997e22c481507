/**
 * The one reading of a callback body's envelope, shared by the webhook (`parseCallback`, which then
 * validates the result) and the workflow's signal handler (which reads no more than this): which
 * task, which phase, which code, and the key that makes the same body a duplicate whichever way it
 * arrives. Pure and free of libraries: the workflow sandbox imports it.
 */
import type { CallbackPhase } from './types.ts';

const PHASE_ALIASES: Readonly<Record<string, CallbackPhase>> = {
  text: 'text',
  first: 'first',
  complete: 'complete',
  error: 'error',
  failed: 'error',
  fail: 'error',
};

/** The phase a `callbackType` names; own keys only (a body may say `constructor`). */
export const phaseNamed = (name: string): CallbackPhase | undefined =>
  Object.hasOwn(PHASE_ALIASES, name) ? PHASE_ALIASES[name] : undefined;

type Fields = Record<string, unknown>;
export const isFields = (value: unknown): value is Fields =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A field in either of the provider's spellings (`task_id` or `taskId`). */
function field(fields: Fields, camel: string): unknown {
  if (Object.hasOwn(fields, camel)) return fields[camel];
  const snake = camel.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
  return Object.hasOwn(fields, snake) ? fields[snake] : undefined;
}

export interface Envelope {
  /** Whether the task's fields came wrapped in `{code, msg, data: {…}}`. */
  wrapped: boolean;
  /** The object holding the task's fields: the body itself, or its `data` when wrapped. */
  inner: Fields;
  taskId: unknown;
  /** The envelope's code when wrapped, else the body's own; undefined when neither says. */
  code: unknown;
  /** `callbackType` as sent (undefined when absent). */
  callbackType: unknown;
  /**
   * The phase the envelope states: its `callbackType`, or `error` for a non-200 code or an error
   * text without one. Undefined when it states none (a kind without phases: its finished result
   * is its completion); `unknown` for a `callbackType` we do not know.
   */
  phase: CallbackPhase | 'unknown' | undefined;
}

/** Reads the envelope of a callback body of either shape: bare or wrapped. */
export function readEnvelope(body: Fields): Envelope {
  const wrapped = field(body, 'taskId') === undefined && isFields(body.data);
  const inner = wrapped ? (body.data as Fields) : body;
  const code = wrapped ? body.code : field(inner, 'code');
  const callbackType = field(inner, 'callbackType');
  const declared = typeof callbackType === 'string' ? callbackType.trim().toLowerCase() : '';
  let phase: Envelope['phase'] = declared ? (phaseNamed(declared) ?? 'unknown') : undefined;
  const errorText = field(inner, 'error') ?? field(inner, 'errorMessage');
  const failedCode = typeof code === 'number' && code !== 200;
  if (phase !== 'unknown' && (failedCode || (!declared && typeof errorText === 'string' && errorText))) {
    phase = 'error';
  }
  return { wrapped, inner, taskId: field(inner, 'taskId'), code, callbackType, phase };
}

/**
 * The dedup key of a callback body: two 32-bit FNV-1a-style hashes of its JSON text, and its
 * length. Deterministic and synchronous, so the webhook and the workflow compute the same key for
 * the same body. Not a MAC: callbacks are authenticated before they get here.
 */
export function callbackKey(body: unknown): string {
  const text = JSON.stringify(body) ?? '';
  let first = 0x811c9dc5;
  let second = 0x01000193 ^ 0x5bd1e995;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    first = Math.imul(first ^ unit, 0x01000193);
    second = Math.imul(second ^ unit, 0x5bd1e995);
    second ^= second >>> 15;
  }
  const hex = (value: number) => (value >>> 0).toString(16).padStart(8, '0');
  return `cb-${hex(first)}${hex(second)}-${text.length}`;
}
