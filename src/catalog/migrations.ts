import { sql, type Kysely } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import type { CatalogDb, CatalogDialect } from './database.ts';

/**
 * The catalog's schema, in order of their names. Append only: a released migration never changes,
 * since databases out there already ran it. Kysely's Migrator records them in `kysely_migration`.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_tasks_tracks_assets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tasks')
        .addColumn('task_id', 'text', (col) => col.primaryKey())
        .addColumn('kind', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) => col.notNull())
        .addColumn('ready', 'integer', (col) => col.notNull())
        .addColumn('summary', 'text')
        .addColumn('submitted_at', 'text', (col) => col.notNull())
        .addColumn('lyrics', 'text')
        .addColumn('catalogued_at', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('tracks')
        .addColumn('track_id', 'text', (col) => col.primaryKey())
        .addColumn('task_id', 'text', (col) => col.notNull().references('tasks.task_id'))
        .addColumn('title', 'text')
        .addColumn('tags', 'text')
        .addColumn('prompt', 'text')
        .addColumn('model_name', 'text')
        .addColumn('duration_seconds', 'double precision')
        .addColumn('created_at', 'text')
        .addColumn('catalogued_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('tracks_listing')
        .on('tracks')
        .columns(['catalogued_at', 'track_id'])
        .execute();
      await db.schema.createIndex('tracks_task').on('tracks').column('task_id').execute();
      await db.schema
        .createTable('track_tags')
        .addColumn('track_id', 'text', (col) => col.notNull().references('tracks.track_id'))
        .addColumn('tag', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('track_tags_pkey', ['track_id', 'tag'])
        .execute();
      await db.schema.createIndex('track_tags_tag').on('track_tags').column('tag').execute();
      await db.schema
        .createTable('assets')
        .addColumn('asset_id', 'text', (col) => col.primaryKey())
        .addColumn('task_id', 'text', (col) => col.notNull().references('tasks.task_id'))
        .addColumn('track_id', 'text')
        .addColumn('type', 'text', (col) => col.notNull())
        .addColumn('name', 'text', (col) => col.notNull())
        .addColumn('source_url', 'text', (col) => col.notNull())
        .addColumn('location', 'text', (col) => col.notNull())
        .addColumn('bytes', 'bigint', (col) => col.notNull())
        .addColumn('sha256', 'text', (col) => col.notNull())
        .addColumn('content_type', 'text', (col) => col.notNull())
        .addColumn('duration_seconds', 'double precision')
        .addColumn('width', 'integer')
        .addColumn('height', 'integer')
        .addColumn('stored_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('assets_task').on('assets').column('task_id').execute();
      await db.schema.createIndex('assets_track').on('assets').column('track_id').execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

/** Raised when the schema cannot be brought up to date; the cause is the database's error. */
export class CatalogMigrationFailed extends Error {
  override readonly name = 'CatalogMigrationFailed';
}

/**
 * Brings the schema up to date with Kysely's Migrator. Safe when several processes start at once:
 * on PostgreSQL the Migrator holds an advisory lock; on SQLite, whose Kysely adapter only
 * serialises one process's connection, the whole run holds SQLite's write lock (`BEGIN IMMEDIATE`),
 * so a second process waits and then finds nothing left to do.
 * @returns the names of the migrations this call applied
 */
export async function migrate(db: CatalogDb, dialect: CatalogDialect): Promise<string[]> {
  const run = async (target: Kysely<unknown>) => {
    const { error, results } = await new Migrator({ db: target, provider }).migrateToLatest();
    if (error) {
      const failed = results?.find((result) => result.status === 'Error')?.migrationName;
      throw new CatalogMigrationFailed(
        `the catalog's schema could not be migrated${failed ? ` (${failed})` : ''}: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
        { cause: error },
      );
    }
    return (results ?? [])
      .filter((result) => result.status === 'Success')
      .map((result) => result.migrationName);
  };
  if (dialect === 'postgres') return run(db as Kysely<unknown>);
  return db.connection().execute(async (connection) => {
    await sql`BEGIN IMMEDIATE`.execute(connection);
    try {
      const applied = await run(connection as Kysely<unknown>);
      await sql`COMMIT`.execute(connection);
      return applied;
    } catch (error) {
      await sql`ROLLBACK`.execute(connection);
      throw error;
    }
  });
}
