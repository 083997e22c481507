/**
 * The web console at `/`: plain HTML, CSS and an ES module from `src/console`, served as they are
 * (no build step), and `/console/config.json`, what the page needs to know of this deployment
 * (where the Temporal UI is; behind `API_TOKEN`). The page itself holds no data: everything it shows comes from `/v1`,
 * under the `API_TOKEN` rule.
 */
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { requireApiToken } from './auth.ts';

const CONSOLE_DIR = join(import.meta.dirname, '..', 'console');

/** Only our own files, no framing: the console runs nothing it did not ship. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self'",
  "media-src 'self'",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: CONSOLE_DIR,
    prefix: '/',
    // One route per file found at start-up: no catch-all in front of the API.
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders(response) {
      response.header('cache-control', 'no-cache');
      response.header('content-security-policy', CONTENT_SECURITY_POLICY);
      response.header('x-content-type-options', 'nosniff');
      response.header('referrer-policy', 'no-referrer');
    },
  });
  // Where this deployment's Temporal UI is: behind the API_TOKEN rule, like the data.
  await app.register(async (scope) => {
    requireApiToken(scope);
    scope.get('/console/config.json', { schema: { hide: true } }, async () => ({
      temporalUiUrl: app.config.temporal.uiUrl ?? null,
      namespace: app.config.temporal.namespace,
    }));
  });
}
