/**
 * The API described: an OpenAPI 3.1 document generated from the routes' zod schemas (the contract
 * in `src/contract/`), served at `/openapi.json`, with interactive docs at `/docs`.
 */
import { readFileSync } from 'node:fs';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { Config } from '../config.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export async function registerApiDocs(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'music-tasks',
        version,
        description:
          'Durable tracking of asynchronous AI music tasks. Submit a task, follow it by id, and fetch ' +
          'its stored files once it is `ready`. Errors are `{error, message}` with a stable `error` code.',
      },
      servers: [{ url: config.publicBaseUrl }],
      tags: [
        { name: 'tasks', description: 'Submit, track, read and cancel tasks' },
        { name: 'library', description: 'Ready tracks and the stored copies of their files' },
        { name: 'events', description: 'Live progress as Server-Sent Events' },
        { name: 'webhooks', description: "The provider's callbacks" },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
      components: {
        securitySchemes: {
          apiToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'Needed by every /v1 route when the server runs with API_TOKEN',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
