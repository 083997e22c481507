import { type z } from 'zod';
import { type TaskKind } from '../provider/kinds.ts';
import { findTextOverLimit, KIND_INPUTS, missingCustomFields } from '../provider/inputs.ts';

export type SubmissionCheck =
  | { ok: true; body: Record<string, unknown>; callBackUrl: string }
  | { ok: false; code: 400 | 413; msg: string };

const refuse = (code: 400 | 413, msg: string): SubmissionCheck => ({ ok: false, code, msg });

/**
 * The provider's checks on a submit body: 400 names the first missing or invalid field, 413 the
 * first text over its documented limit. Unknown fields are ignored, as the provider does.
 */
export function checkSubmission(kind: TaskKind, raw: unknown): SubmissionCheck {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return refuse(400, 'The request body must be a JSON object.');
  }
  const body = raw as Record<string, unknown>;
  const { callBackUrl, ...input } = body;
  if (typeof callBackUrl !== 'string' || !callBackUrl.trim()) return refuse(400, 'callBackUrl is required.');
  if (!/^https?:\/\/[^/\s]+/i.test(callBackUrl) || !URL.canParse(callBackUrl)) {
    return refuse(400, 'callBackUrl must be an http(s) URL.');
  }

  const parsed = (KIND_INPUTS[kind] as unknown as z.ZodObject).loose().safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    const missing = issue?.code === 'invalid_type' && input[field] === undefined;
    return refuse(
      400,
      missing ? `${field} is required.` : `${field} is invalid: ${issue?.message ?? 'bad value'}.`,
    );
  }

  const customFields = requiredCustomFields(kind, input);
  if (customFields[0]) return refuse(400, `${customFields[0]} is required.`);

  if (kind === 'music' || kind === 'extend' || kind === 'upload-cover') {
    // Extend's custom switch is `defaultParamFlag`; its limits follow custom mode's.
    const customMode = kind === 'extend' ? input.defaultParamFlag === true : input.customMode === true;
    const over = findTextOverLimit({ ...input, customMode });
    if (over) {
      return refuse(413, `${over.field} is too long: ${over.length} characters, the limit is ${over.limit}.`);
    }
  }
  return { ok: true, body, callBackUrl };
}

function requiredCustomFields(kind: TaskKind, input: Record<string, unknown>): string[] {
  if (kind === 'music' || kind === 'upload-cover') return missingCustomFields(input);
  if (kind === 'extend' && input.defaultParamFlag === true) {
    const needed = ['prompt', 'style', 'title', 'continueAt'];
    return needed.filter((field) => input[field] === undefined || input[field] === '');
  }
  return [];
}
