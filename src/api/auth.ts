import type { FastifyInstance } from 'fastify';
import { HttpError } from '../httpErrors.ts';
import { tokenMatches } from '../webhook/token.ts';

/**
 * With `API_TOKEN` set, every route of the plugin `app` needs `Authorization: Bearer <API_TOKEN>`
 * (compared in constant time); without it the routes are open.
 */
export function requireApiToken(app: FastifyInstance): void {
  const apiToken = app.config.apiToken;
  if (!apiToken) return;
  // The API's description says which routes need the token.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: [{ apiToken: [] }] };
  });
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!tokenMatches(presented, [apiToken])) {
      throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <API_TOKEN>');
    }
  });
}
