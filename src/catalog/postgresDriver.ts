import pg from 'pg';
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './driver.ts';

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the catalog's SQL has no `?` in literals). */
export function toPostgresPlaceholders(sql: string): string {
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
}

const executor = (client: pg.Pool | pg.PoolClient): SqlExecutor => ({
  async query(sql: string, params: readonly SqlValue[] = []) {
    const result = await client.query<SqlRow>(toPostgresPlaceholders(sql), [...params]);
    return result.rows;
  },
});

/** PostgreSQL through a `pg` pool (`DATABASE_URL`). */
export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres';
  private readonly pool: pg.Pool;
  private readonly direct: SqlExecutor;

  constructor(connectionString: string) {
    this.pool = new pg.Pool({ connectionString, max: 5 });
    // An idle client that errors (server restart) must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
    this.direct = executor(this.pool);
  }

  query(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.direct.query(sql, params);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
