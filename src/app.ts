import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client, Connection } from '@temporalio/client';
import type { Config } from './config.ts';
import { FASTIFY_ERROR_CODES, HttpError } from './httpErrors.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { requireKnownHost } from './api/exposure.ts';
import { registerBudgetGauges } from './observability/budgetGauges.ts';
import { redactUrl } from './observability/redact.ts';
import { registerTaskCounts } from './observability/taskCounts.ts';
import { BudgetGovernor } from './temporal/providerBudget.ts';
import { DebugRequestLog, fastifyLoggerOptions } from './observability/logging.ts';
import { libraryRoutes } from './api/library.ts';
import { providerRoutes } from './api/provider.ts';
import { taskRoutes } from './api/routes.ts';
import { eventRoutes } from './api/events.ts';
import { consoleRoutes } from './api/console.ts';
import type { AssetStore } from './activities/assetStore.ts';
import type { Catalog } from './catalog/types.ts';
import { temporalReachable } from './temporal/connection.ts';
import { webhookRoutes } from './webhook/routes.ts';

export interface AppDeps {
  client: Client;
  connection: Connection;
  /** Secrets a callback's token may match: the current one first, then any being rotated out. */
  webhookSecrets: readonly string[];
  metrics?: Metrics;
  /** The catalog behind `/v1/tracks` and `/v1/assets` (those answer 503 without one). */
  catalog?: Catalog;
  /** Where `/v1/assets/:assetId` reads our copies; default: the store the configuration names. */
  assets?: AssetStore;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps & { metrics: Metrics };
    config: Config;
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Builds the HTTP app (API, webhooks, health, metrics). Never listens: `server.ts` does. */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger:
      config.logLevel === 'silent'
        ? false
        : fastifyLoggerOptions(config, {
            // Callback credentials travel in the query string: keep them out of request logs.
            serializers: {
              req: (request: { method: string; url: string }) => ({
                method: request.method,
                url: redactUrl(request.url),
              }),
            },
          }),
    logController: new DebugRequestLog(),
    trustProxy: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const metrics = deps.metrics ?? createMetrics();
  if (!metrics.registry.getSingleMetric('music_tasks')) {
    registerTaskCounts(metrics.registry, deps.client);
    registerBudgetGauges(metrics.registry, BudgetGovernor.fromConfig(deps.connection, config));
  }
  app.decorate('deps', { ...deps, metrics });
  app.decorate('config', config);
  requireKnownHost(app, config);

  app.addHook('onResponse', async (request, reply) => {
    // Labels take known values only: no request can add a series.
    metrics.httpRequests
      .labels(
        KNOWN_METHODS.has(request.method) ? request.method : 'invalid',
        request.routeOptions.url ?? 'unmatched',
        String(reply.statusCode),
      )
      .observe(reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, ...error.extra });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply
        .code(status)
        .send({ error: 'internal_error', message: 'internal error; see the server log' });
    }
    const code =
      (error.code && FASTIFY_ERROR_CODES[error.code]) ??
      (error.validation ? 'invalid_request' : 'bad_request');
    return reply.code(status).send({ error: code, message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await temporalReachable(deps.connection);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'temporal_unreachable' });
  });
  // With METRICS_PORT set, `/metrics` lives on its own port (server.ts), not on the public one.
  if (config.metricsPort === undefined) {
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  await app.register(webhookRoutes);
  await app.register(taskRoutes, { prefix: '/v1' });
  await app.register(libraryRoutes, { prefix: '/v1' });
  await app.register(providerRoutes, { prefix: '/v1' });
  await app.register(eventRoutes, { prefix: '/v1' });
  await app.register(consoleRoutes);
  return app;
}
