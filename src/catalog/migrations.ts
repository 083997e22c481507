import type { SqlDriver, SqlExecutor } from './driver.ts';

export interface Migration {
  version: number;
  name: string;
  /** Statements that run as written on SQLite and PostgreSQL alike. */
  statements: readonly string[];
}

/**
 * The catalog's schema, in order. Append only: a released migration never changes, since
 * databases out there already ran it. Booleans are 0/1 integers and times ISO text, so one SQL
 * text fits both databases.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tasks, tracks and assets',
    statements: [
      `CREATE TABLE tasks (
        task_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        ready INTEGER NOT NULL,
        summary TEXT,
        submitted_at TEXT NOT NULL,
        lyrics TEXT,
        catalogued_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE TABLE tracks (
        track_id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks (task_id),
        title TEXT,
        tags TEXT,
        prompt TEXT,
        model_name TEXT,
        duration_seconds DOUBLE PRECISION,
        created_at TEXT,
        catalogued_at TEXT NOT NULL
      )`,
      'CREATE INDEX tracks_listing ON tracks (catalogued_at, track_id)',
      'CREATE INDEX tracks_task ON tracks (task_id)',
      `CREATE TABLE track_tags (
        track_id TEXT NOT NULL REFERENCES tracks (track_id),
        tag TEXT NOT NULL,
        PRIMARY KEY (track_id, tag)
      )`,
      'CREATE INDEX track_tags_tag ON track_tags (tag)',
      `CREATE TABLE assets (
        asset_id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks (task_id),
        track_id TEXT,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        source_url TEXT NOT NULL,
        location TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        content_type TEXT NOT NULL,
        duration_seconds DOUBLE PRECISION,
        width INTEGER,
        height INTEGER,
        stored_at TEXT NOT NULL
      )`,
      'CREATE INDEX assets_task ON assets (task_id)',
      'CREATE INDEX assets_track ON assets (track_id)',
    ],
  },
];

/** Arbitrary, fixed: the PostgreSQL advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK = 7_346_021;

/**
 * Brings the schema up to date. Safe when several processes start at once: each migration runs
 * in a transaction that holds the write lock (SQLite) or an advisory lock (PostgreSQL), and a
 * version already in `schema_migrations` is skipped.
 * @returns the versions applied by this call
 */
export async function migrate(driver: SqlDriver, migrations = MIGRATIONS): Promise<number[]> {
  const lock = async (tx: SqlExecutor) => {
    if (driver.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
  };
  // Under the lock too: two PostgreSQL sessions creating the same table at once can collide.
  await driver.transaction(async (tx) => {
    await lock(tx);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`,
    );
  });
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    await driver.transaction(async (tx) => {
      await lock(tx);
      const done = await tx.query('SELECT version FROM schema_migrations WHERE version = ?', [
        migration.version,
      ]);
      if (done.length) return;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        new Date().toISOString(),
      ]);
      applied.push(migration.version);
    });
  }
  return applied;
}
