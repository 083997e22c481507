/**
 * The Temporal server of the cluster, on PostgreSQL: its two databases and their schemas (set up
 * and brought to this version idempotently, from `deploy/temporal/schema`), the server itself from
 * `deploy/temporal/config` (the configuration docker-compose.yml mounts too), then the namespace
 * and the contract's search attributes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import pg from 'pg';
import { ensureSearchAttributes } from '../temporal/connection.ts';
import { clusterBinary, deployDir } from './binaries.ts';
import { ManagedProcess, ProcessFailure } from './managedProcess.ts';
import type { Postgres } from './postgres.ts';

const run = promisify(execFile);

/** Every port the server's four services listen on. */
export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/** The server's own defaults (deploy/temporal/config/music-tasks.yaml), as docker-compose uses them. */
export const DEFAULT_TEMPORAL_PORTS: TemporalPorts = {
  frontend: 7233,
  frontendHttp: 7243,
  frontendMembership: 6933,
  history: 7234,
  historyMembership: 6934,
  matching: 7235,
  matchingMembership: 6935,
  worker: 7239,
  workerMembership: 6939,
};

/** Temporal's login on PostgreSQL (loopback only; docker-compose takes TEMPORAL_DB_PASSWORD). */
export const TEMPORAL_DB_LOGIN = { user: 'temporal', password: 'temporal' } as const;

/** Temporal's databases and the schema directory each is brought up to date from. */
const DATABASES = [
  { name: 'temporal', schema: 'temporal' },
  { name: 'temporal_visibility', schema: 'visibility' },
] as const;

/**
 * Creates Temporal's databases when missing, sets up the base schema only where none is (so a
 * second start keeps the data), then applies every newer versioned step (update-schema skips the
 * ones already applied).
 */
export async function setupTemporalSchema(postgres: Postgres): Promise<void> {
  const { user, password } = TEMPORAL_DB_LOGIN;
  const tool = clusterBinary('temporal-sql-tool');
  for (const database of DATABASES) {
    await postgres.ensureDatabase(database.name, user, password);
    const sql = (...args: string[]) =>
      run(tool, [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(postgres.port),
        '-u',
        user,
        '--pw',
        password,
        '--db',
        database.name,
        ...args,
      ]).catch((error: unknown) => {
        const stderr = String((error as { stderr?: string }).stderr ?? error).trim();
        throw new ProcessFailure(`temporal-sql-tool ${args[0]} on ${database.name} failed: ${stderr}`);
      });
    const client = new pg.Client({ connectionString: postgres.url(database.name, user, password) });
    await client.connect();
    let hasSchema: boolean;
    try {
      const { rows } = await client.query<{ table: string | null }>(
        "SELECT to_regclass('public.schema_version')::text AS table",
      );
      hasSchema = rows[0]?.table !== null;
    } finally {
      await client.end();
    }
    if (!hasSchema) await sql('setup-schema', '-v', '0.0');
    await sql(
      'update-schema',
      '-d',
      join(deployDir, 'temporal', 'schema', 'postgresql', 'v12', database.schema, 'versioned'),
    );
  }
}

/** The environment that renders deploy/temporal/config/music-tasks.yaml for these ports. */
export function temporalServerEnv(ports: TemporalPorts, postgresPort: number): Record<string, string> {
  return {
    TEMPORAL_DB_HOST: '127.0.0.1',
    TEMPORAL_DB_PORT: String(postgresPort),
    TEMPORAL_DB_USER: TEMPORAL_DB_LOGIN.user,
    TEMPORAL_DB_PASSWORD: TEMPORAL_DB_LOGIN.password,
    TEMPORAL_BIND_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    TEMPORAL_FRONTEND_PORT: String(ports.frontend),
    TEMPORAL_FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    TEMPORAL_HISTORY_PORT: String(ports.history),
    TEMPORAL_HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    TEMPORAL_MATCHING_PORT: String(ports.matching),
    TEMPORAL_MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    TEMPORAL_WORKER_PORT: String(ports.worker),
    TEMPORAL_WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
    TEMPORAL_DYNAMIC_CONFIG_FILE: join(deployDir, 'temporal', 'dynamicconfig', 'music-tasks.yaml'),
  };
}

/** True once the frontend answers. */
async function frontendAnswers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: '1s' });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

export interface TemporalServerOptions {
  ports: TemporalPorts;
  postgresPort: number;
  echo?: boolean;
  onUnexpectedExit?: (part: ManagedProcess, description: string) => void;
}

/** The server as a restartable process; `start()` resolves once the frontend answers. */
export function temporalServerProcess(options: TemporalServerOptions): ManagedProcess {
  const address = `127.0.0.1:${options.ports.frontend}`;
  return new ManagedProcess({
    name: 'temporal',
    command: {
      file: clusterBinary('temporal-server'),
      args: [
        '--root',
        deployDir,
        '--config',
        'temporal/config',
        '--env',
        'music-tasks',
        '--allow-no-auth',
        'start',
      ],
    },
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...temporalServerEnv(options.ports, options.postgresPort),
      TEMPORAL_LOG_LEVEL: process.env.TEMPORAL_LOG_LEVEL ?? 'error',
    },
    echo: options.echo,
    onUnexpectedExit: options.onUnexpectedExit,
    async ready(part) {
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline) {
        if (await frontendAnswers(address)) return;
        if (!part.running) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      throw new ProcessFailure(`the Temporal server did not answer on ${address}: ${part.lastLines()}`);
    },
  });
}

/**
 * Registers the namespace when missing (7 days of retention) and the contract's search attributes,
 * then waits until the namespace serves requests (a new one takes a few seconds to be known).
 */
export async function ensureNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: '5s' });
  try {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('7 days'),
      });
    } catch (error) {
      if ((error as { code?: number }).code !== grpcStatus.ALREADY_EXISTS) throw error;
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await ensureSearchAttributes(connection, namespace);
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await connection.close();
  }
}
