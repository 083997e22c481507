import type { Track } from '../provider/types.ts';
import type { StoredAsset } from '../workflows/state.ts';
import { sql, type Selectable, type Transaction } from 'kysely';
import type { CatalogDb, CatalogTables } from './database.ts';
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

function assetFromRow(row: Selectable<CatalogTables['assets']>): CatalogAsset {
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

/** One catalog over Kysely: each query is built once and compiled for SQLite or PostgreSQL. */
export class SqlCatalog implements Catalog {
  constructor(private readonly db: CatalogDb) {}

  async recordTask(entry: CatalogEntry): Promise<void> {
    const now = new Date().toISOString();
    // The first statement writes, so SQLite takes its write lock at once (no stale read to upgrade).
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('tasks')
        .values({
          task_id: entry.taskId,
          kind: entry.kind,
          status: entry.status,
          ready: entry.ready ? 1 : 0,
          summary: entry.summary ?? null,
          submitted_at: entry.submittedAt,
          lyrics: entry.lyrics ? JSON.stringify(entry.lyrics) : null,
          catalogued_at: now,
          updated_at: now,
        })
        .onConflict((conflict) =>
          conflict.column('task_id').doUpdateSet((eb) => ({
            kind: eb.ref('excluded.kind'),
            status: eb.ref('excluded.status'),
            // Once ready, always ready: a late, stale record does not hide the task's tracks.
            ready: eb.case().when('tasks.ready', '=', 1).then(1).else(eb.ref('excluded.ready')).end(),
            summary: eb.ref('excluded.summary'),
            submitted_at: eb.ref('excluded.submitted_at'),
            lyrics: eb.ref('excluded.lyrics'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
      for (const track of entry.tracks) await upsertTrack(tx, entry.taskId, track, now);
      for (const asset of entry.assets) await upsertAsset(tx, entry.taskId, asset, now);
    });
  }

  async listTracks(query: TrackQuery): Promise<TrackPage> {
    let select = this.db
      .selectFrom('tracks as t')
      .innerJoin('tasks as k', 'k.task_id', 't.task_id')
      .selectAll('t')
      .select('k.kind')
      .where('k.ready', '=', 1);
    if (query.q) {
      const pattern = likePattern(query.q);
      select = select.where((eb) => {
        const matches = (column: 't.title' | 't.tags' | 't.prompt') =>
          sql<boolean>`lower(coalesce(${eb.ref(column)}, '')) LIKE ${pattern} ESCAPE '\\'`;
        return eb.or([matches('t.title'), matches('t.tags'), matches('t.prompt')]);
      });
    }
    if (query.tag) {
      const tag = query.tag.trim().toLowerCase();
      select = select.where((eb) =>
        eb.exists(
          eb
            .selectFrom('track_tags as g')
            .select('g.tag')
            .whereRef('g.track_id', '=', 't.track_id')
            .where('g.tag', '=', tag),
        ),
      );
    }
    if (query.cursor) {
      const [cataloguedAt, id] = decodeCursor(query.cursor);
      select = select.where((eb) =>
        eb.or([
          eb('t.catalogued_at', '<', cataloguedAt),
          eb.and([eb('t.catalogued_at', '=', cataloguedAt), eb('t.track_id', '<', id)]),
        ]),
      );
    }
    const rows = await select
      .orderBy('t.catalogued_at', 'desc')
      .orderBy('t.track_id', 'desc')
      .limit(query.limit + 1)
      .execute();
    const page = rows.slice(0, query.limit);
    const assets = await this.assetsOfTracks(page.map((row) => row.track_id));
    const tracks: CatalogTrack[] = page.map((row) => ({
      id: row.track_id,
      taskId: row.task_id,
      kind: row.kind as CatalogTrack['kind'],
      tags: tagsOf(text(row.tags)),
      cataloguedAt: row.catalogued_at,
      assets: assets.filter((asset) => asset.trackId === row.track_id),
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
    const rows = await this.db
      .selectFrom('assets')
      .selectAll()
      .where('track_id', 'in', trackIds)
      .orderBy('asset_id')
      .execute();
    return rows.map(assetFromRow);
  }

  async getAsset(assetId: string): Promise<CatalogAsset | undefined> {
    const row = await this.db
      .selectFrom('assets')
      .selectAll()
      .where('asset_id', '=', assetId)
      .executeTakeFirst();
    return row ? assetFromRow(row) : undefined;
  }

  async countRows(): Promise<{ tasks: number; tracks: number; assets: number }> {
    const count = async (table: 'tasks' | 'tracks' | 'assets') => {
      const row = await this.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('rows'))
        .executeTakeFirstOrThrow();
      return Number(row.rows);
    };
    const [tasks, tracks, assets] = await Promise.all([count('tasks'), count('tracks'), count('assets')]);
    return { tasks, tracks, assets };
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}

async function upsertTrack(
  tx: Transaction<CatalogTables>,
  taskId: string,
  track: Track,
  now: string,
): Promise<void> {
  await tx
    .insertInto('tracks')
    .values({
      track_id: track.id,
      task_id: taskId,
      title: track.title ?? null,
      tags: track.tags ?? null,
      prompt: track.prompt ?? null,
      model_name: track.modelName ?? null,
      duration_seconds: track.duration ?? null,
      created_at: track.createdAt ?? null,
      catalogued_at: now,
    })
    .onConflict((conflict) =>
      conflict.column('track_id').doUpdateSet((eb) => ({
        task_id: eb.ref('excluded.task_id'),
        title: eb.ref('excluded.title'),
        tags: eb.ref('excluded.tags'),
        prompt: eb.ref('excluded.prompt'),
        model_name: eb.ref('excluded.model_name'),
        duration_seconds: eb.ref('excluded.duration_seconds'),
        created_at: eb.ref('excluded.created_at'),
      })),
    )
    .execute();
  await tx.deleteFrom('track_tags').where('track_id', '=', track.id).execute();
  const tags = tagsOf(track.tags);
  if (tags.length) {
    await tx
      .insertInto('track_tags')
      .values(tags.map((tag) => ({ track_id: track.id, tag })))
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  }
}

async function upsertAsset(
  tx: Transaction<CatalogTables>,
  taskId: string,
  asset: StoredAsset,
  now: string,
): Promise<void> {
  await tx
    .insertInto('assets')
    .values({
      asset_id: asset.id,
      task_id: taskId,
      track_id: asset.trackId ?? null,
      type: asset.type,
      name: asset.name,
      source_url: asset.sourceUrl,
      location: asset.path,
      bytes: asset.bytes,
      sha256: asset.sha256,
      content_type: asset.contentType ?? 'application/octet-stream',
      duration_seconds: asset.durationSeconds ?? null,
      width: asset.width ?? null,
      height: asset.height ?? null,
      stored_at: now,
    })
    .onConflict((conflict) =>
      conflict.column('asset_id').doUpdateSet((eb) => ({
        task_id: eb.ref('excluded.task_id'),
        track_id: eb.ref('excluded.track_id'),
        type: eb.ref('excluded.type'),
        name: eb.ref('excluded.name'),
        source_url: eb.ref('excluded.source_url'),
        location: eb.ref('excluded.location'),
        bytes: eb.ref('excluded.bytes'),
        sha256: eb.ref('excluded.sha256'),
        content_type: eb.ref('excluded.content_type'),
        duration_seconds: eb.ref('excluded.duration_seconds'),
        width: eb.ref('excluded.width'),
        height: eb.ref('excluded.height'),
      })),
    )
    .execute();
}
