import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../httpErrors.ts';
import { tokenMatches } from '../webhook/token.ts';

/** The cookie the web console keeps the API token in (for what cannot send a header). */
export const TOKEN_COOKIE = 'music_tasks_token';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals < 0 || part.slice(0, equals).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(equals + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The token a request presents: `Authorization: Bearer`, or for a read (GET, HEAD) the console's
 * cookie or a `token` query parameter, since EventSource, `<audio>` and `<img>` cannot send a
 * header. A read changes nothing, so a cookie cannot be abused for a write; request logs redact
 * `token` (`redactUrl`).
 */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const cookie = cookieValue(request.headers.cookie, TOKEN_COOKIE);
  if (cookie) return cookie;
  const query = (request.query ?? {}) as Record<string, unknown>;
  return typeof query.token === 'string' ? query.token : undefined;
}

/**
 * With `API_TOKEN` set, every route of the plugin `app` needs `Authorization: Bearer <API_TOKEN>`
 * (compared in constant time), or for a read the same token as a cookie or `?token=`; without it
 * the routes are open.
 */
export function requireApiToken(app: FastifyInstance): void {
  const apiToken = app.config.apiToken;
  if (!apiToken) return;
  // The API's description says which routes need the token.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: [{ apiToken: [] }] };
  });
  app.addHook('onRequest', async (request) => {
    if (!tokenMatches(presentedToken(request), [apiToken])) {
      throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <API_TOKEN>');
    }
  });
}
