import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import proto from '@temporalio/proto';
import { ConfigError, type Config } from '../config.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions.ts';

// The proto package is CommonJS: take its namespace from the default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(error as Error).message})`);
  }
}

/** What both the client's `Connection` and the worker's `NativeConnection` take to reach Temporal. */
export interface TemporalConnectionOptions {
  address: string;
  /** Set for mTLS, a private CA or an API key; `{}` is TLS with the system's CAs. */
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer };
  apiKey?: string;
}

/**
 * Address, TLS and API key of the configured Temporal frontend. Certificate files are read here,
 * at connect time; an unreadable one is a {@link ConfigError} naming its variable.
 */
export function temporalConnectionOptions(config: Pick<Config, 'temporal'>): TemporalConnectionOptions {
  const { address, tls, apiKey } = config.temporal;
  if (!tls) return { address };
  const { certPath, keyPath, caPath } = tls;
  return {
    address,
    tls: {
      ...(certPath && keyPath
        ? {
            clientCertPair: {
              crt: readPem('TEMPORAL_TLS_CERT', certPath),
              key: readPem('TEMPORAL_TLS_KEY', keyPath),
            },
          }
        : {}),
      ...(caPath ? { serverRootCACertificate: readPem('TEMPORAL_TLS_CA', caPath) } : {}),
    },
    ...(apiKey ? { apiKey } : {}),
  };
}

/** One gRPC connection and client for the configured namespace. */
export async function connectTemporal(
  config: Pick<Config, 'temporal'>,
): Promise<{ connection: Connection; client: Client }> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: '5s' });
  return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
}

/**
 * Registers the contract's search attributes in the namespace when they are missing (the embedded
 * dev server has them from its flags; a cluster may not). Needs operator rights: on Temporal
 * Cloud register them in the namespace settings instead.
 * @returns false when these credentials may not list them (Temporal Cloud): nothing was checked.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<boolean> {
  const types = {
    Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  };
  let existing;
  try {
    existing = await connection.operatorService.listSearchAttributes({ namespace });
  } catch (error) {
    // Temporal Cloud keeps the operator API from namespace credentials: they are registered there by hand.
    const code = (error as { code?: number }).code;
    if (code === grpcStatus.PERMISSION_DENIED || code === grpcStatus.UNIMPLEMENTED) {
      return false;
    }
    throw error;
  }
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(
    ([name]) => !(name in (existing.customAttributes ?? {})),
  );
  if (!missing.length) return true;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, types[type]])),
    });
  } catch (error) {
    if ((error as { code?: number }).code !== grpcStatus.ALREADY_EXISTS) throw error;
  }
  return true;
}

/** True while the Temporal frontend answers. */
export async function temporalReachable(connection: Connection, timeoutMs = 2_000): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}
