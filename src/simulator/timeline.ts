import { type FailureStatus, type ProgressStatus, type TaskKind } from '../provider/kinds.ts';

/** The callback phases the provider reports (PROVIDER.md, "Callbacks"). */
export type PhaseName = 'text' | 'first' | 'complete';

export interface Phase {
  readonly name: PhaseName;
  /** The status a query reports once this phase is done. */
  readonly status: ProgressStatus;
  /** When the phase is reached, in unscaled milliseconds after submission. */
  readonly atMs: number;
}

const songTimeline: readonly Phase[] = [
  { name: 'text', status: 'TEXT_SUCCESS', atMs: 10_000 },
  { name: 'first', status: 'FIRST_SUCCESS', atMs: 35_000 },
  { name: 'complete', status: 'SUCCESS', atMs: 150_000 },
];

const finishesAt = (atMs: number): readonly Phase[] => [{ name: 'complete', status: 'SUCCESS', atMs }];

/** Observed timings of the real provider: songs take minutes, the other kinds tens of seconds. */
export const KIND_TIMELINES: Readonly<Record<TaskKind, readonly Phase[]>> = {
  music: songTimeline,
  extend: songTimeline,
  'upload-cover': songTimeline,
  lyrics: finishesAt(20_000),
  'vocal-removal': finishesAt(40_000),
  'split-stem': finishesAt(60_000),
  wav: finishesAt(30_000),
  mp4: finishesAt(60_000),
  'cover-art': finishesAt(20_000),
};

/** The ways a task of each kind can fail, its own GENERATE_*_FAILED first. */
export const KIND_FAILURES: Readonly<Record<TaskKind, readonly [FailureStatus, ...FailureStatus[]]>> = {
  music: ['GENERATE_AUDIO_FAILED', 'SENSITIVE_WORD_ERROR', 'CREATE_TASK_FAILED'],
  extend: ['GENERATE_AUDIO_FAILED', 'SENSITIVE_WORD_ERROR', 'CREATE_TASK_FAILED'],
  'upload-cover': ['GENERATE_AUDIO_FAILED', 'SENSITIVE_WORD_ERROR', 'CREATE_TASK_FAILED'],
  lyrics: ['GENERATE_LYRICS_FAILED', 'SENSITIVE_WORD_ERROR', 'CREATE_TASK_FAILED'],
  'vocal-removal': ['GENERATE_AUDIO_FAILED', 'CREATE_TASK_FAILED'],
  'split-stem': ['GENERATE_AUDIO_FAILED', 'CREATE_TASK_FAILED'],
  wav: ['GENERATE_WAV_FAILED', 'CREATE_TASK_FAILED'],
  mp4: ['GENERATE_MP4_FAILED', 'CREATE_TASK_FAILED'],
  'cover-art': ['GENERATE_COVER_FAILED', 'CREATE_TASK_FAILED'],
};

/** What the provider says about each failure: the callback's `code` and the `error` text. */
export const FAILURE_DETAILS: Readonly<Record<FailureStatus, { code: number; msg: string; error: string }>> =
  {
    CREATE_TASK_FAILED: {
      code: 500,
      msg: 'Task creation failed.',
      error: 'Internal error while creating the task.',
    },
    GENERATE_AUDIO_FAILED: {
      code: 501,
      msg: 'Audio generation failed.',
      error: 'The prompt contains an artist name.',
    },
    SENSITIVE_WORD_ERROR: {
      code: 400,
      msg: 'Sensitive word detected.',
      error: 'The prompt contains sensitive words.',
    },
    GENERATE_LYRICS_FAILED: {
      code: 501,
      msg: 'Lyrics generation failed.',
      error: 'Lyrics could not be generated.',
    },
    GENERATE_WAV_FAILED: {
      code: 501,
      msg: 'WAV generation failed.',
      error: 'The source audio could not be converted.',
    },
    GENERATE_MP4_FAILED: {
      code: 501,
      msg: 'MP4 generation failed.',
      error: 'The video could not be rendered.',
    },
    GENERATE_COVER_FAILED: {
      code: 451,
      msg: 'Cover generation failed.',
      error: 'The cover image could not be created.',
    },
  };
