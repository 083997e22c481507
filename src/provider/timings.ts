import type { ProgressStatus, TaskKind } from './kinds.ts';

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
