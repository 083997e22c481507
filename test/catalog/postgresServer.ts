/**
 * A throwaway PostgreSQL for catalog tests, from the Debian packages that `scripts/setup.sh`
 * installs: `initdb` into a temporary directory and `postgres` on a free loopback port, run as
 * the `postgres` user when the tests run as root (the server refuses to run as root). `TEST_DATABASE_URL`
 * points the tests at an existing server instead.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../support/ports.ts';

export interface PostgresServer {
  /** A new, empty database on the server. */
  createDatabase(): Promise<string>;
  close(): Promise<void>;
}

/** Where the server binaries are, or why there are none. */
function findBinaries(): { bin: string } | { missing: string } {
  const candidates = ['/usr/lib/postgresql'].flatMap((root) =>
    existsSync(root)
      ? readdirSync(root)
          .sort((a, b) => Number(b) - Number(a))
          .map((version) => join(root, version, 'bin'))
      : [],
  );
  const bin = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
  return bin
    ? { bin }
    : { missing: 'no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/setup.sh as root' };
}

async function connectWhenUp(url: string, server: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (server.exitCode !== null) throw new Error(`postgres exited with code ${server.exitCode}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('postgres did not accept connections within 10 s');
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
  const found = findBinaries();
  if ('missing' in found) return { unavailable: found.missing };

  const dir = mkdtempSync(join(tmpdir(), 'music-tasks-pg-'));
  let user: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    user = { uid: id('-u'), gid: id('-g') };
    chownSync(dir, user.uid, user.gid);
  }
  const data = join(dir, 'data');
  execFileSync(
    join(found.bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
    { stdio: 'ignore', ...user },
  );
  const port = await freePort();
  const server = spawn(
    join(found.bin, 'postgres'),
    // A test database: durability is not the point, speed is.
    ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-F', '-c', 'full_page_writes=off'],
    { stdio: 'ignore', ...user },
  );
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await connectWhenUp(adminUrl, server);
  } catch (error) {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    createDatabase: databaseFactory(adminUrl),
    async close() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      // SIGINT: PostgreSQL's fast shutdown.
      server.kill('SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
