import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

/** The Temporal CLI: on PATH first, else the copy `npm run setup` built into `.tools/bin`. */
export function findTemporalCli(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const local = join(projectRoot, '.tools', 'bin', 'temporal');
  if (existsSync(local)) return local;
  throw new Error(
    'the Temporal CLI is missing: run `npm run setup` (it builds it with Go) or put `temporal` on PATH',
  );
}

/**
 * Dynamic configuration every Temporal server of this project runs with (the dev server here, the
 * cluster's dynamic-config file). The provider-call task queue's rate limit is the fleet's provider
 * budget: one partition makes it one token bucket (four would each get a quarter, and a quarter
 * left idle is budget lost), and the priority-aware matcher lets confirmations and submissions
 * overtake timer polls inside it.
 */
export const SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'matching.useNewMatcher': true,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

export interface DevServerOptions {
  port: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  /** SQLite file; undefined keeps everything in memory. */
  dbFile?: string;
  /**
   * Pragmas (`name=value`) for the SQLite file. Default: write-ahead logging, which keeps every
   * commit durable but appends instead of rewriting pages: about twice the writes per second of
   * SQLite's rollback journal on the dev server (bench/RESULTS.md, "Dev server storage").
   */
  sqlitePragmas?: readonly string[];
  namespace?: string;
  ip?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** `pipe`: the caller reads `process.stdout`/`stderr` (npm start formats them); default `inherit`. */
  output?: 'inherit' | 'pipe';
  /** Dynamic configuration beyond {@link SERVER_DYNAMIC_CONFIG} (a test's own limits). */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** `temporal server start-dev` with the contract's search attributes, resolved once it answers. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(options.port),
    '--log-level',
    options.logLevel ?? 'error',
  ];
  args.push('--namespace', options.namespace ?? 'default');
  if (options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort));
  if (options.dbFile) {
    args.push('--db-filename', options.dbFile);
    for (const pragma of options.sqlitePragmas ?? ['journal_mode=wal']) args.push('--sqlite-pragma', pragma);
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries({ ...SERVER_DYNAMIC_CONFIG, ...options.dynamicConfig }))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const output = options.output ?? 'inherit';
  const child = spawn(findTemporalCli(), args, { stdio: ['ignore', output, output] });
  const address = `${ip}:${options.port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    await waitUntilServing(address, 60_000, exited);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, process: child, stop };
}

async function waitUntilServing(
  address: string,
  timeoutMs: number,
  exited: Promise<number | null>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: number | null | undefined;
  void exited.then((code) => (dead = code ?? -1));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (dead !== undefined) throw new Error(`temporal server start-dev exited with code ${dead}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(
    `Temporal dev server on ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`,
  );
}
