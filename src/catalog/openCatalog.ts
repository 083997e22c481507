import type { Config } from '../config.ts';
import { openDatabase } from './database.ts';
import { migrate } from './migrations.ts';
import { SqlCatalog } from './sqlCatalog.ts';
import type { Catalog } from './types.ts';

export type { Catalog } from './types.ts';

/**
 * The catalog the configuration names, its schema migrated: PostgreSQL when `DATABASE_URL` is
 * set, else SQLite at `DATA_DIR/catalog.sqlite`.
 */
export async function openCatalog(config: Pick<Config, 'catalog'>): Promise<Catalog> {
  const { db, dialect } = openDatabase(config.catalog);
  try {
    await migrate(db, dialect);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
  return new SqlCatalog(db);
}
