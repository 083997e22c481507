/**
 * A throwaway PostgreSQL for catalog tests: the cluster's own server (src/cluster/postgres.ts) in a
 * temporary directory on a free loopback port. `TEST_DATABASE_URL` points the tests at an
 * existing server instead.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresUnavailable, startPostgres as startServer } from '../../src/cluster/postgres.ts';
import { freePort } from '../support/ports.ts';

export interface PostgresServer {
  /** A new, empty database on the server. */
  createDatabase(): Promise<string>;
  close(): Promise<void>;
}

function databaseFactory(adminUrl: string) {
  return async () => {
    const name = `catalog_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
}

/** Starts a server, or answers why it cannot (the tests report that reason as their skip). */
export async function startPostgres(): Promise<PostgresServer | { unavailable: string }> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) return { createDatabase: databaseFactory(external), close: async () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'music-tasks-pg-'));
  // The postgres user (when we are root) must reach the data directory inside it.
  chmodSync(dir, 0o755);
  try {
    const server = await startServer({ dataDir: join(dir, 'data'), port: await freePort() });
    return {
      createDatabase: databaseFactory(server.url('postgres')),
      async close() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    if (error instanceof PostgresUnavailable) return { unavailable: error.message };
    throw error;
  }
}
