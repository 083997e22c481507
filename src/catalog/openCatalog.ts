import type { Config } from '../config.ts';
import type { SqlDriver } from './driver.ts';
import { migrate } from './migrations.ts';
import { PostgresDriver } from './postgresDriver.ts';
import { SqlCatalog } from './sqlCatalog.ts';
import { SqliteDriver } from './sqliteDriver.ts';
import type { Catalog } from './types.ts';

export type { Catalog } from './types.ts';

/**
 * The catalog the configuration names, its schema migrated: PostgreSQL when `DATABASE_URL` is
 * set, else SQLite at `DATA_DIR/catalog.sqlite`.
 */
export async function openCatalog(config: Pick<Config, 'catalog'>): Promise<Catalog> {
  const { databaseUrl, sqlitePath } = config.catalog;
  const driver: SqlDriver = databaseUrl ? new PostgresDriver(databaseUrl) : new SqliteDriver(sqlitePath);
  try {
    await migrate(driver);
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw error;
  }
  return new SqlCatalog(driver);
}
