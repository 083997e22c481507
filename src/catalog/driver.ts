/** Plain rows in, plain rows out: the one thing the catalog needs from a database. */
export type SqlValue = string | number | null;
export type SqlRow = Record<string, unknown>;

/** Statements use `?` placeholders; each driver binds them its own way. */
export interface SqlExecutor {
  query(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `work` in one transaction that holds the write lock from its start. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
