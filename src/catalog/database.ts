import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';

/** Booleans are 0/1 integers and times ISO text, so one schema fits SQLite and PostgreSQL. */
export interface CatalogTables {
  tasks: {
    task_id: string;
    kind: string;
    status: string;
    ready: number;
    summary: string | null;
    submitted_at: string;
    lyrics: string | null;
    catalogued_at: string;
    updated_at: string;
  };
  tracks: {
    track_id: string;
    task_id: string;
    title: string | null;
    tags: string | null;
    prompt: string | null;
    model_name: string | null;
    duration_seconds: number | null;
    created_at: string | null;
    catalogued_at: string;
  };
  track_tags: { track_id: string; tag: string };
  assets: {
    asset_id: string;
    task_id: string;
    track_id: string | null;
    type: string;
    name: string;
    source_url: string;
    location: string;
    /** BIGINT: PostgreSQL answers it as a string. */
    bytes: number | string;
    sha256: string;
    content_type: string;
    duration_seconds: number | null;
    width: number | null;
    height: number | null;
    stored_at: string;
  };
}

export type CatalogDb = Kysely<CatalogTables>;
export type CatalogDialect = 'sqlite' | 'postgres';

/** Kysely over PostgreSQL (`DATABASE_URL`, a `pg` pool) or a SQLite file (better-sqlite3). */
export function openDatabase(target: { databaseUrl?: string; sqlitePath: string }): {
  db: CatalogDb;
  dialect: CatalogDialect;
} {
  if (target.databaseUrl) {
    const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 5 });
    // An idle client that errors (server restart) must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    return { db: new Kysely<CatalogTables>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres' };
  }
  const file = target.sqlitePath;
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  // The worker writes while the server reads, from two processes: WAL, and wait on locks.
  const database = new Database(file, { timeout: 10_000 });
  inWalMode(database);
  database.pragma('foreign_keys = ON');
  return { db: new Kysely<CatalogTables>({ dialect: new SqliteDialect({ database }) }), dialect: 'sqlite' };
}

/**
 * Switches the file to write-ahead logging (kept in the file once done). Two processes opening a
 * new file at once collide here, and SQLite answers SQLITE_BUSY at once instead of waiting on its
 * busy timeout: the loser tries again for a few seconds.
 */
function inWalMode(database: Database.Database): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      database.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 200) throw error;
      Atomics.wait(pause, 0, 0, 25);
    }
  }
}
