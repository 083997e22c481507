import { Client, Connection } from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import proto from '@temporalio/proto';
import type { Config } from '../config.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions.ts';

// The proto package is CommonJS: take its namespace from the default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;

/** One gRPC connection and client for the configured namespace. */
export async function connectTemporal(
  config: Pick<Config, 'temporal'>,
): Promise<{ connection: Connection; client: Client }> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' });
  return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
}

/**
 * Registers the contract's search attributes in the namespace when they are missing (the embedded
 * dev server has them from its flags; a cluster may not). Needs operator rights: on Temporal
 * Cloud register them in the namespace settings instead.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const types = {
    Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  };
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(
    ([name]) => !(name in (existing.customAttributes ?? {})),
  );
  if (!missing.length) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, types[type]])),
    });
  } catch (error) {
    if ((error as { code?: number }).code !== grpcStatus.ALREADY_EXISTS) throw error;
  }
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
