import type { Track } from '../provider/types.ts';
import type { StoredAsset } from '../workflows/state.ts';
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './driver.ts';
import {
  CatalogCursorInvalid,
  type Catalog,
  type CatalogAsset,
  type CatalogEntry,
  type CatalogTrack,
  type TrackPage,
  type TrackQuery,
} from './types.ts';

/** `"pop, Upbeat ,pop"` → `["pop", "upbeat"]`: tags match whole and case-insensitively. */
export function tagsOf(tags: string | undefined): string[] {
  const all = (tags ?? '').split(',').map((tag) => tag.trim().toLowerCase());
  return [...new Set(all.filter(Boolean))];
}

function encodeCursor(row: { cataloguedAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([row.cataloguedAt, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(decoded) && decoded.length === 2 && decoded.every((part) => typeof part === 'string')) {
      return decoded as [string, string];
    }
  } catch {
    // falls through to the typed error
  }
  throw new CatalogCursorInvalid('cursor: pass the nextCursor of the previous page unchanged');
}

/** `%` and `_` typed by a user are text, not wildcards. */
const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
const number = (value: unknown) => (value === null || value === undefined ? undefined : Number(value));
const optional = <T extends Record<string, unknown>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;

function assetFromRow(row: SqlRow): CatalogAsset {
  return {
    id: String(row.asset_id),
    taskId: String(row.task_id),
    type: String(row.type),
    name: String(row.name),
    sourceUrl: String(row.source_url),
    path: String(row.location),
    bytes: Number(row.bytes),
    sha256: String(row.sha256),
    contentType: String(row.content_type),
    ...optional({
      trackId: text(row.track_id),
      durationSeconds: number(row.duration_seconds),
      width: number(row.width),
      height: number(row.height),
    }),
  };
}

/** One catalog over any {@link SqlDriver}: the SQL is written once for SQLite and PostgreSQL. */
export class SqlCatalog implements Catalog {
  constructor(private readonly driver: SqlDriver) {}

  async recordTask(entry: CatalogEntry): Promise<void> {
    const now = new Date().toISOString();
    await this.driver.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO tasks (task_id, kind, status, ready, summary, submitted_at, lyrics, catalogued_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (task_id) DO UPDATE SET
           kind = excluded.kind, status = excluded.status,
           ready = CASE WHEN tasks.ready = 1 THEN 1 ELSE excluded.ready END,
           summary = excluded.summary, submitted_at = excluded.submitted_at,
           lyrics = excluded.lyrics, updated_at = excluded.updated_at`,
        [
          entry.taskId,
          entry.kind,
          entry.status,
          entry.ready ? 1 : 0,
          entry.summary ?? null,
          entry.submittedAt,
          entry.lyrics ? JSON.stringify(entry.lyrics) : null,
          now,
          now,
        ],
      );
      for (const track of entry.tracks) await this.upsertTrack(tx, entry.taskId, track, now);
      for (const asset of entry.assets) await this.upsertAsset(tx, entry.taskId, asset, now);
    });
  }

  private async upsertTrack(tx: SqlExecutor, taskId: string, track: Track, now: string): Promise<void> {
    await tx.query(
      `INSERT INTO tracks (track_id, task_id, title, tags, prompt, model_name, duration_seconds, created_at, catalogued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (track_id) DO UPDATE SET
         task_id = excluded.task_id, title = excluded.title, tags = excluded.tags, prompt = excluded.prompt,
         model_name = excluded.model_name, duration_seconds = excluded.duration_seconds,
         created_at = excluded.created_at`,
      [
        track.id,
        taskId,
        track.title ?? null,
        track.tags ?? null,
        track.prompt ?? null,
        track.modelName ?? null,
        track.duration ?? null,
        track.createdAt ?? null,
        now,
      ],
    );
    await tx.query('DELETE FROM track_tags WHERE track_id = ?', [track.id]);
    for (const tag of tagsOf(track.tags)) {
      await tx.query('INSERT INTO track_tags (track_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING', [
        track.id,
        tag,
      ]);
    }
  }

  private async upsertAsset(tx: SqlExecutor, taskId: string, asset: StoredAsset, now: string): Promise<void> {
    await tx.query(
      `INSERT INTO assets (asset_id, task_id, track_id, type, name, source_url, location, bytes, sha256,
                           content_type, duration_seconds, width, height, stored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (asset_id) DO UPDATE SET
         task_id = excluded.task_id, track_id = excluded.track_id, type = excluded.type, name = excluded.name,
         source_url = excluded.source_url, location = excluded.location, bytes = excluded.bytes,
         sha256 = excluded.sha256, content_type = excluded.content_type,
         duration_seconds = excluded.duration_seconds, width = excluded.width, height = excluded.height`,
      [
        asset.id,
        taskId,
        asset.trackId ?? null,
        asset.type,
        asset.name,
        asset.sourceUrl,
        asset.path,
        asset.bytes,
        asset.sha256,
        asset.contentType ?? 'application/octet-stream',
        asset.durationSeconds ?? null,
        asset.width ?? null,
        asset.height ?? null,
        now,
      ],
    );
  }

  async listTracks(query: TrackQuery): Promise<TrackPage> {
    const where = ['k.ready = 1'];
    const params: SqlValue[] = [];
    if (query.q) {
      const pattern = likePattern(query.q);
      where.push(
        `(lower(coalesce(t.title, '')) LIKE ? ESCAPE '\\' OR lower(coalesce(t.tags, '')) LIKE ? ESCAPE '\\'
          OR lower(coalesce(t.prompt, '')) LIKE ? ESCAPE '\\')`,
      );
      params.push(pattern, pattern, pattern);
    }
    if (query.tag) {
      where.push('EXISTS (SELECT 1 FROM track_tags g WHERE g.track_id = t.track_id AND g.tag = ?)');
      params.push(query.tag.trim().toLowerCase());
    }
    if (query.cursor) {
      const [cataloguedAt, id] = decodeCursor(query.cursor);
      where.push('(t.catalogued_at < ? OR (t.catalogued_at = ? AND t.track_id < ?))');
      params.push(cataloguedAt, cataloguedAt, id);
    }
    const rows = await this.driver.query(
      `SELECT t.*, k.kind FROM tracks t JOIN tasks k ON k.task_id = t.task_id
       WHERE ${where.join(' AND ')}
       ORDER BY t.catalogued_at DESC, t.track_id DESC
       LIMIT ?`,
      [...params, query.limit + 1],
    );
    const page = rows.slice(0, query.limit);
    const assets = await this.assetsOfTracks(page.map((row) => String(row.track_id)));
    const tracks: CatalogTrack[] = page.map((row) => ({
      id: String(row.track_id),
      taskId: String(row.task_id),
      kind: String(row.kind) as CatalogTrack['kind'],
      tags: tagsOf(text(row.tags)),
      cataloguedAt: String(row.catalogued_at),
      assets: assets.filter((asset) => asset.trackId === String(row.track_id)),
      ...optional({
        title: text(row.title),
        prompt: text(row.prompt),
        modelName: text(row.model_name),
        durationSeconds: number(row.duration_seconds),
        createdAt: text(row.created_at),
      }),
    }));
    const last = tracks.at(-1);
    return { tracks, ...(rows.length > query.limit && last ? { nextCursor: encodeCursor(last) } : {}) };
  }

  private async assetsOfTracks(trackIds: string[]): Promise<CatalogAsset[]> {
    if (!trackIds.length) return [];
    const rows = await this.driver.query(
      `SELECT * FROM assets WHERE track_id IN (${trackIds.map(() => '?').join(', ')}) ORDER BY asset_id`,
      trackIds,
    );
    return rows.map(assetFromRow);
  }

  async getAsset(assetId: string): Promise<CatalogAsset | undefined> {
    const [row] = await this.driver.query('SELECT * FROM assets WHERE asset_id = ?', [assetId]);
    return row ? assetFromRow(row) : undefined;
  }

  async countRows(): Promise<{ tasks: number; tracks: number; assets: number }> {
    const [row] = await this.driver.query(
      `SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM tracks) AS tracks,
              (SELECT count(*) FROM assets) AS assets`,
    );
    return { tasks: Number(row?.tasks), tracks: Number(row?.tracks), assets: Number(row?.assets) };
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
