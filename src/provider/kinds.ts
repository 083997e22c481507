/**
 * The one table that maps the service's task kinds to the provider's routes.
 * Pure data: the workflow sandbox imports it too.
 */
export const TASK_KINDS = [
  'music',
  'extend',
  'upload-cover',
  'lyrics',
  'vocal-removal',
  'split-stem',
  'wav',
  'mp4',
  'cover-art',
] as const;

export type TaskKind = (typeof TASK_KINDS)[number];

/** The provider's query routes; several kinds share one. */
export type QueryRoute =
  | '/suno/query/task'
  | '/suno/query/lyrics'
  | '/suno/query/vocal-removal'
  | '/suno/query/wav'
  | '/suno/query/mp4'
  | '/suno/query/cover';

/** What a finished task of a kind yields; decides how results and callbacks are read. */
export type ResultShape = 'tracks' | 'lyrics' | 'stems' | 'wav' | 'video' | 'images';

export interface KindRoutes {
  readonly submit: string;
  readonly query: QueryRoute;
  readonly result: ResultShape;
  /** Whether the provider reports song phases (text, first, complete) for this kind. */
  readonly phased: boolean;
}

export const KIND_ROUTES: Readonly<Record<TaskKind, KindRoutes>> = {
  music: { submit: '/suno/generate', query: '/suno/query/task', result: 'tracks', phased: true },
  extend: { submit: '/suno/extend', query: '/suno/query/task', result: 'tracks', phased: true },
  'upload-cover': { submit: '/suno/upload-cover', query: '/suno/query/task', result: 'tracks', phased: true },
  lyrics: { submit: '/suno/generate-lyrics', query: '/suno/query/lyrics', result: 'lyrics', phased: false },
  'vocal-removal': {
    submit: '/suno/vocal-removal',
    query: '/suno/query/vocal-removal',
    result: 'stems',
    phased: false,
  },
  'split-stem': {
    submit: '/suno/split-stem',
    query: '/suno/query/vocal-removal',
    result: 'stems',
    phased: false,
  },
  wav: { submit: '/suno/wav-generate', query: '/suno/query/wav', result: 'wav', phased: false },
  mp4: { submit: '/suno/mp4-generate', query: '/suno/query/mp4', result: 'video', phased: false },
  'cover-art': {
    submit: '/suno/generate-cover',
    query: '/suno/query/cover',
    result: 'images',
    phased: false,
  },
};

export function isTaskKind(value: unknown): value is TaskKind {
  return typeof value === 'string' && (TASK_KINDS as readonly string[]).includes(value);
}

/** Provider task states (PROVIDER.md), plus the drift states seen in the wider API family. */
export const SUCCESS_STATUS = 'SUCCESS';
export const PROGRESS_STATUSES = ['PENDING', 'TEXT_SUCCESS', 'FIRST_SUCCESS', 'SUCCESS'] as const;
export const FAILURE_STATUSES = [
  'CREATE_TASK_FAILED',
  'GENERATE_AUDIO_FAILED',
  'SENSITIVE_WORD_ERROR',
  'GENERATE_LYRICS_FAILED',
  'GENERATE_WAV_FAILED',
  'GENERATE_MP4_FAILED',
  'GENERATE_COVER_FAILED',
] as const;
/** Says only that a callback could not be delivered: not a failure of the task. */
export const CALLBACK_EXCEPTION = 'CALLBACK_EXCEPTION';

export type ProgressStatus = (typeof PROGRESS_STATUSES)[number];
export type FailureStatus = (typeof FAILURE_STATUSES)[number];

export function isFailureStatus(status: string): status is FailureStatus {
  return (FAILURE_STATUSES as readonly string[]).includes(status);
}

/** Rank of a progress state; a task's status never moves to a lower rank. Unknown states rank -1. */
export function progressRank(status: string): number {
  return (PROGRESS_STATUSES as readonly string[]).indexOf(status);
}
