import { z } from 'zod';
import type { TaskKind } from './kinds.ts';

/** Models the provider accepts, oldest first. */
export const MODELS = ['V4', 'V4_5', 'V4_5PLUS', 'V4_5ALL', 'V5'] as const;
export type Model = (typeof MODELS)[number];

/** Documented text limits (PROVIDER.md): V4 is stricter than later models. */
export function textLimits(model: Model, customMode: boolean) {
  const v4 = model === 'V4';
  return {
    prompt: customMode ? (v4 ? 3000 : 5000) : 500,
    style: v4 ? 200 : 1000,
    title: v4 ? 80 : 100,
  };
}

const nonEmpty = z.string().trim().min(1);
const sourceAudio = { taskId: nonEmpty, audioId: nonEmpty };
const songText = {
  prompt: z.string().optional(),
  style: z.string().optional(),
  title: z.string().optional(),
  negativeTags: z.string().optional(),
  vocalGender: z.enum(['m', 'f']).optional(),
  personaId: z.string().optional(),
};

const generateInput = z.strictObject({
  customMode: z.boolean(),
  instrumental: z.boolean(),
  model: z.enum(MODELS),
  ...songText,
});

/**
 * The body each kind sends to its submit route, without `callBackUrl` (the service adds it).
 * Shapes only: the provider's length limits are checked by {@link findTextOverLimit}.
 */
export const KIND_INPUTS = {
  music: generateInput,
  extend: z.strictObject({
    audioId: nonEmpty,
    continueAt: z.number().nonnegative().optional(),
    defaultParamFlag: z.boolean().optional(),
    model: z.enum(MODELS),
    ...songText,
  }),
  'upload-cover': generateInput.extend({ uploadUrl: z.url() }),
  lyrics: z.strictObject({ prompt: nonEmpty }),
  'vocal-removal': z.strictObject(sourceAudio),
  'split-stem': z.strictObject(sourceAudio),
  wav: z.strictObject(sourceAudio),
  mp4: z.strictObject({ ...sourceAudio, author: z.string().optional(), domainName: z.string().optional() }),
  'cover-art': z.strictObject({ taskId: nonEmpty }),
} satisfies Record<TaskKind, z.ZodType>;

export type KindInput<K extends TaskKind> = z.infer<(typeof KIND_INPUTS)[K]>;
export type AnyKindInput = KindInput<TaskKind>;

/** Fields that custom mode requires (the provider answers 400 without them). */
export function missingCustomFields(input: Record<string, unknown>): string[] {
  if (input.customMode !== true) return input.prompt ? [] : ['prompt'];
  const needed = input.instrumental === true ? ['style', 'title'] : ['style', 'title', 'prompt'];
  return needed.filter((field) => typeof input[field] !== 'string' || input[field] === '');
}

/** The first text field over the provider's documented limit, or undefined when all fit. */
export function findTextOverLimit(
  input: Record<string, unknown>,
): { field: string; length: number; limit: number } | undefined {
  const model = (MODELS as readonly unknown[]).includes(input.model) ? (input.model as Model) : 'V5';
  const limits = textLimits(model, input.customMode === true);
  for (const field of ['prompt', 'style', 'title'] as const) {
    const value = input[field];
    if (typeof value === 'string' && value.length > limits[field]) {
      return { field, length: value.length, limit: limits[field] };
    }
  }
  return undefined;
}

/** What a task of each kind makes from its source, when it has no title or prompt of its own. */
const MADE_FROM: Partial<Record<TaskKind, (input: Record<string, unknown>) => string | undefined>> = {
  extend: (input) =>
    `extension of track ${String(input.audioId)}${typeof input.continueAt === 'number' ? ` from ${input.continueAt} s` : ''}`,
  'upload-cover': (input) => `cover of ${String(input.uploadUrl)}`,
  'vocal-removal': (input) => `vocals and instrumental of track ${String(input.audioId)}`,
  'split-stem': (input) => `stems of track ${String(input.audioId)}`,
  wav: (input) => `WAV of track ${String(input.audioId)}`,
  mp4: (input) => `video of track ${String(input.audioId)}`,
  'cover-art': (input) => `cover art for task ${String(input.taskId)}`,
};

/**
 * A short label a person reads (the title or prompt, else what the task makes from what), for the
 * Temporal UI, the task view and the CLI.
 */
export function describeInput(input: Record<string, unknown>, kind?: TaskKind): string | undefined {
  for (const field of ['title', 'prompt']) {
    const value = input[field];
    if (typeof value === 'string' && value.trim()) return value.trim().slice(0, 80);
  }
  const madeFrom = kind && MADE_FROM[kind]?.(input);
  if (madeFrom) return madeFrom.slice(0, 80);
  for (const field of ['audioId', 'taskId']) {
    const value = input[field];
    if (typeof value === 'string' && value.trim()) return value.trim().slice(0, 80);
  }
  return undefined;
}

/** What a missing field takes: ` (boolean)`, `: one of V4, V4_5, …`. */
function expectation(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return ` (${issue.expected})`;
  if (issue.code === 'invalid_value') return `: one of ${issue.values.map(String).join(', ')}`;
  return '';
}

/** One thing wrong with a submission's input, named by its field (`input.model`). */
export interface InputProblem {
  field: string;
  message: string;
}

/** A kind's input fields, required and optional, read from its schema (for error answers and docs). */
export function kindFields(kind: TaskKind): { required: string[]; optional: string[] } {
  const shape = KIND_INPUTS[kind].shape as Record<string, z.ZodType>;
  const fields = Object.entries(shape);
  return {
    required: fields.filter(([, schema]) => !schema.safeParse(undefined).success).map(([name]) => name),
    optional: fields.filter(([, schema]) => schema.safeParse(undefined).success).map(([name]) => name),
  };
}

/**
 * Every problem with a submission's input at once (shape, unknown fields, custom mode's
 * requirements), so a client fixes them in one go rather than one per request.
 */
export function inputProblems(kind: TaskKind, input: Record<string, unknown>): InputProblem[] {
  const problems: InputProblem[] = [];
  const parsed = KIND_INPUTS[kind].safeParse(input);
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = Object.keys(KIND_INPUTS[kind].shape).join(', ');
      for (const key of issue.keys) {
        problems.push({ field: `input.${key}`, message: `not a ${kind} field (fields: ${known})` });
      }
      continue;
    }
    const field = ['input', ...issue.path.map(String)].join('.');
    const missing = issue.path.length === 1 && input[String(issue.path[0])] === undefined;
    problems.push({ field, message: missing ? `required${expectation(issue)}` : issue.message });
  }
  if ((kind === 'music' || kind === 'upload-cover') && typeof input.customMode === 'boolean') {
    const mode = input.customMode ? 'custom mode' : 'non-custom mode';
    for (const name of missingCustomFields(input)) {
      if (!problems.some((problem) => problem.field === `input.${name}`)) {
        problems.push({ field: `input.${name}`, message: `${mode} requires it` });
      }
    }
  }
  return problems;
}
