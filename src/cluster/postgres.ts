/**
 * A PostgreSQL server of our own from Debian's binaries (`scripts/setup.sh` installs them): `initdb`
 * into a data directory the first time, then `postgres` on a loopback port, run as the `postgres`
 * user when we are root (the server refuses to run as root). The cluster keeps its data directory;
 * the catalog tests use a throwaway one.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ManagedProcess, ProcessFailure } from './managedProcess.ts';

/** Raised when PostgreSQL cannot be run here; the message says what to do. */
export class PostgresUnavailable extends Error {
  override readonly name = 'PostgresUnavailable';
}

/** The directory of `initdb` and `postgres`, newest major version first. */
export function findPostgresBinaries(): string {
  const root = '/usr/lib/postgresql';
  const candidates = existsSync(root)
    ? readdirSync(root)
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join(root, version, 'bin'))
    : [];
  const bin = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
  if (!bin) {
    throw new PostgresUnavailable(
      "no PostgreSQL server binaries under /usr/lib/postgresql: run `npm run setup -- --cluster` as root (it installs Debian's postgresql)",
    );
  }
  return bin;
}

export interface PostgresOptions {
  /** Kept across starts: created (initdb) when it holds no cluster yet. */
  dataDir: string;
  port: number;
  /** Off for throwaway test databases: no fsync, no full-page writes. */
  durable?: boolean;
  echo?: boolean;
  onUnexpectedExit?: (part: ManagedProcess, description: string) => void;
}

export interface Postgres {
  readonly process: ManagedProcess;
  readonly port: number;
  /** `postgres://user[:password]@127.0.0.1:port/database` */
  url(database: string, user?: string, password?: string): string;
  /** Creates the login role (with its password) and its database when missing. */
  ensureDatabase(database: string, user: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/** The uid/gid to run as: the `postgres` user when we are root, else ourselves. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new PostgresUnavailable(
      "running as root but there is no `postgres` user: install Debian's postgresql package",
    );
  }
}

async function connectWhenUp(url: string, part: ManagedProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!part.running) throw new ProcessFailure(`postgres exited: ${part.lastLines()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new ProcessFailure(
    `postgres did not accept connections within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

/** Starts the server (initialising its data directory first when needed); resolves once it accepts connections. */
export async function startPostgres(options: PostgresOptions): Promise<Postgres> {
  const bin = findPostgresBinaries();
  const user = serverUser();
  const { dataDir, port } = options;
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (user) chownSync(dataDir, user.uid, user.gid);
    try {
      execFileSync(
        join(bin, 'initdb'),
        [
          '-D',
          dataDir,
          '-U',
          'postgres',
          '-A',
          'trust',
          '-E',
          'UTF8',
          ...(options.durable ? [] : ['--no-sync']),
        ],
        { stdio: 'pipe', ...user },
      );
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? error);
      throw new PostgresUnavailable(
        `initdb ${dataDir} failed${user ? ' (as the postgres user: every directory above it must be searchable by that user)' : ''}: ${stderr.trim()}`,
      );
    }
  }
  const args = ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-c', 'unix_socket_directories='];
  // A throwaway database: durability is not the point, speed is.
  if (!options.durable) args.push('-F', '-c', 'full_page_writes=off');
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const part = new ManagedProcess({
    name: 'postgres',
    command: { file: join(bin, 'postgres'), args },
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
    echo: options.echo,
    ...(user ? { user } : {}),
    ready: (self) => connectWhenUp(adminUrl, self),
    onUnexpectedExit: options.onUnexpectedExit,
  });
  await part.start();
  const url = (database: string, login = 'postgres', password?: string) =>
    `postgres://${encodeURIComponent(login)}${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:${port}/${database}`;
  return {
    process: part,
    port,
    url,
    async ensureDatabase(database, login, password) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [login]);
        if (!role.rowCount) {
          // Identifiers cannot be bound as parameters: quote them with the server's own function.
          const { rows } = await admin.query<{ name: string; secret: string }>(
            'SELECT quote_ident($1) AS name, quote_literal($2) AS secret',
            [login, password],
          );
          await admin.query(`CREATE ROLE ${rows[0]!.name} LOGIN CREATEDB PASSWORD ${rows[0]!.secret}`);
        }
        const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
        if (!found.rowCount) {
          const { rows } = await admin.query<{ db: string; owner: string }>(
            'SELECT quote_ident($1) AS db, quote_ident($2) AS owner',
            [database, login],
          );
          await admin.query(`CREATE DATABASE ${rows[0]!.db} OWNER ${rows[0]!.owner}`);
        }
      } finally {
        await admin.end();
      }
    },
    // SIGTERM: PostgreSQL's smart shutdown would wait for clients; SIGINT is its fast shutdown.
    stop: () => part.stop('SIGINT'),
  };
}
