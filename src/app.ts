import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client, Connection } from '@temporalio/client';
import type { Config } from './config.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { requireKnownHost } from './api/exposure.ts';
import { registerBudgetGauges } from './observability/budgetGauges.ts';
import { redactUrl } from './observability/redact.ts';
import { registerTaskCounts } from './observability/taskCounts.ts';
import { BudgetGovernor } from './temporal/providerBudget.ts';
import { DebugRequestLog, fastifyLoggerOptions } from './observability/logging.ts';
import { registerApiDocs } from './api/docs.ts';
import { registerErrorHandler } from './api/errors.ts';
import { libraryRoutes } from './api/library.ts';
import * as contract from './contract/schemas.ts';
import { TaskClient } from './tasks/client.ts';
import { providerRoutes } from './api/provider.ts';
import { taskRoutes } from './api/routes.ts';
import { eventRoutes } from './api/events.ts';
import { consoleRoutes } from './api/console.ts';
import type { AssetStore } from './activities/assetStore.ts';
import type { Catalog } from './catalog/types.ts';
import { temporalReachable } from './temporal/connection.ts';
import { webhookRoutes } from './webhook/routes.ts';

/** What the routes and the webhook ask of tasks: the task client, or a fake in HTTP-only tests. */
export type TaskOperations = Pick<
  TaskClient,
  'submit' | 'submission' | 'track' | 'get' | 'list' | 'cancel' | 'deliverCallback' | 'deliverToTracked'
>;

export interface AppDeps {
  client: Client;
  connection: Connection;
  /** Default: a `TaskClient` on `client`. */
  tasks?: TaskOperations;
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
    deps: AppDeps & { metrics: Metrics; tasks: TaskOperations };
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
  const tasks = deps.tasks ?? TaskClient.fromConfig(deps.client, config);
  app.decorate('deps', { ...deps, metrics, tasks });
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

  registerErrorHandler(app);
  await registerApiDocs(app, config);

  const probe = { tags: ['operations'], response: { 200: contract.health, 503: contract.health } };
  app.get('/healthz', { schema: { summary: 'Liveness', ...probe } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: Temporal reachable', ...probe } },
    async (_request, reply) => {
      const ready = await temporalReachable(deps.connection);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'temporal_unreachable' });
    },
  );
  // With METRICS_PORT set, `/metrics` lives on its own port (server.ts), not on the public one.
  if (config.metricsPort === undefined) {
    app.get(
      '/metrics',
      { schema: { summary: 'Prometheus metrics', tags: ['operations'] } },
      async (_request, reply) =>
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
