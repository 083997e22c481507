import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { loadConfig, resolveWebhookSecret, type Config } from './config.ts';
import { openCatalog } from './catalog/openCatalog.ts';
import { assertSafeExposure } from './api/exposure.ts';
import { serveMetrics } from './observability/metricsServer.ts';
import { startTracing } from './observability/tracing.ts';
import { onShutdown } from './shutdown.ts';
import { temporalConnectionOptions } from './temporal/connection.ts';

/**
 * Builds the app on a lazy Temporal connection (the server starts, and answers 503 on `/readyz`
 * and on callbacks, while Temporal is down) and listens.
 */
export async function startServer(
  config: Config,
): Promise<{ app: FastifyInstance; url: string; metricsUrl?: string; close: () => Promise<void> }> {
  assertSafeExposure(config);
  const connection = Connection.lazy({ ...temporalConnectionOptions(config), connectTimeout: '5s' });
  const tracing = startTracing(config, 'music-tasks-server');
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    interceptors: tracing?.clientInterceptors,
  });
  const catalog = await openCatalog(config);
  const app = await buildApp(config, {
    client,
    connection,
    catalog,
    webhookSecrets: [resolveWebhookSecret(config), ...config.previousWebhookSecrets],
  });
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : await serveMetrics(app.deps.metrics.registry, config.host, config.metricsPort);
  const url = await app.listen({ port: config.port, host: config.host });
  return {
    app,
    url,
    metricsUrl: metricsServer?.url,
    async close() {
      await app.close();
      await metricsServer?.close();
      await tracing?.shutdown();
      await connection.close();
      await catalog.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  onShutdown('server', async ({ signal }) => {
    server.app.log.info({ signal }, 'shutting down');
    await server.close();
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`server: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
