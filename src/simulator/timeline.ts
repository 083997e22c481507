import { type FailureStatus, type TaskKind } from '../provider/kinds.ts';

// The provider's typical timings are provider knowledge, shared with the CLI's ETA.
export { KIND_TIMELINES, type Phase, type PhaseName } from '../provider/timings.ts';

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
