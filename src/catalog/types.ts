import type { TaskKind } from '../provider/kinds.ts';
import type { LyricsText, Track } from '../provider/types.ts';
import type { StoredAsset } from '../workflows/state.ts';

/** What `catalogTask` records about a finished task: its tracks and every stored copy. */
export interface CatalogEntry {
  taskId: string;
  kind: TaskKind;
  status: string;
  /** True once every asset is stored: only ready tasks' tracks are listed. */
  ready: boolean;
  summary?: string;
  submittedAt: string;
  tracks: Track[];
  assets: StoredAsset[];
  lyrics?: LyricsText[];
}

/** A stored copy as the read side serves it. */
export interface CatalogAsset {
  id: string;
  taskId: string;
  trackId?: string;
  type: string;
  name: string;
  sourceUrl: string;
  /** Where our copy is (a file path or `s3://bucket/key`). */
  path: string;
  bytes: number;
  sha256: string;
  contentType: string;
  durationSeconds?: number;
  width?: number;
  height?: number;
}

export interface CatalogTrack {
  id: string;
  taskId: string;
  kind: TaskKind;
  title?: string;
  tags: string[];
  prompt?: string;
  modelName?: string;
  /** As the provider declared it. */
  durationSeconds?: number;
  createdAt?: string;
  cataloguedAt: string;
  assets: CatalogAsset[];
}

export interface TrackQuery {
  /** Case-insensitive text in the title, tags or prompt. */
  q?: string;
  /** One tag, matched whole and case-insensitively. */
  tag?: string;
  limit: number;
  /** From the previous page's `nextCursor`. */
  cursor?: string;
}

export interface TrackPage {
  tracks: CatalogTrack[];
  /** Absent on the last page. */
  nextCursor?: string;
}

/** A database of tasks, tracks and assets, keyed by the provider's ids. */
export interface Catalog {
  /** Upserts the task, its tracks and its assets in one transaction: recording twice changes nothing. */
  recordTask(entry: CatalogEntry): Promise<void>;
  /** Ready tracks, newest catalogued first. @throws CatalogCursorInvalid for a cursor it did not issue */
  listTracks(query: TrackQuery): Promise<TrackPage>;
  getAsset(assetId: string): Promise<CatalogAsset | undefined>;
  /** Row counts, for tests and operators. */
  countRows(): Promise<{ tasks: number; tracks: number; assets: number }>;
  close(): Promise<void>;
}

/** A `cursor` that is not one the catalog handed out. */
export class CatalogCursorInvalid extends Error {
  override readonly name = 'CatalogCursorInvalid';
}
