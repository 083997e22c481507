import type { TaskKind } from './kinds.ts';

/** One generated song track, normalised from any of the provider's field spellings. */
export interface Track {
  id: string;
  audioUrl?: string;
  streamAudioUrl?: string;
  imageUrl?: string;
  title?: string;
  tags?: string;
  prompt?: string;
  modelName?: string;
  /** Seconds, as the provider declares it. */
  duration?: number;
  createdAt?: string;
}

export interface LyricsText {
  title?: string;
  text: string;
}

/** What a task produced; which fields are set depends on the kind's result shape. */
export interface TaskResult {
  tracks?: Track[];
  lyrics?: LyricsText[];
  /** Stem name (`vocal`, `instrumental`, `origin`, `drums`, …) to file URL. */
  stems?: Record<string, string>;
  wavUrl?: string;
  videoUrl?: string;
  images?: string[];
}

export interface ProviderFailure {
  /** The provider's failure state or error code, e.g. `GENERATE_AUDIO_FAILED` or `501`. */
  code: string;
  message: string;
}

/** One answer of a query route, whatever its drift, in one shape. */
export interface ProviderSnapshot {
  taskId: string;
  kind: TaskKind;
  /** The provider's state name (`PENDING` … `SUCCESS`, a failure name, or one we do not know). */
  status: string;
  terminal: boolean;
  failed: boolean;
  result: TaskResult;
  /** The result holds the kind's finished output (URLs or text): `SUCCESS` without it is not trusted. */
  finished: boolean;
  error?: ProviderFailure;
  createdAt?: string;
}

export const CALLBACK_PHASES = ['text', 'first', 'complete', 'error'] as const;
export type CallbackPhase = (typeof CALLBACK_PHASES)[number];

/** A provider callback after parsing: the same shape for bare and wrapped bodies, every kind. */
export interface NormalizedCallback {
  taskId: string;
  kind: TaskKind;
  phase: CallbackPhase;
  /** Envelope code (200 when the body was bare). */
  code: number;
  message?: string;
  result: TaskResult;
  error?: ProviderFailure;
}
