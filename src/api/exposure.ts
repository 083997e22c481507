import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config } from '../config.ts';
import { isLoopbackHost } from '../fetchPolicy/addresses.ts';
import { HttpError } from '../httpErrors.ts';

export { isLoopbackHost };

/**
 * An open API (no API_TOKEN) listens on loopback only, unless API_OPEN says it is meant to be open.
 * @throws ConfigError naming both ways out
 */
export function assertSafeExposure(config: Pick<Config, 'host' | 'apiToken' | 'apiOpen'>): void {
  if (config.apiToken || config.apiOpen || isLoopbackHost(config.host)) return;
  throw new ConfigError(
    `HOST=${config.host} would serve the API to the network without a token: set API_TOKEN, or API_OPEN=true if it is meant to be open`,
  );
}

/** The `Host` header's name, port stripped. */
function hostName(header: string | undefined): string {
  if (!header) return '';
  const bracket = header.match(/^\[([^\]]*)\]/);
  return bracket ? bracket[1]! : header.replace(/:\d*$/, '');
}

/** Routes that carry their own proof or tell nothing: callbacks, liveness and readiness. */
const HOST_FREE = /^\/(webhooks\/|healthz(\?|$)|readyz(\?|$))/;

/**
 * While the API is open (no API_TOKEN) it answers only requests addressed to a loopback name (or to
 * PUBLIC_BASE_URL's host), so a web page whose name rebinds to 127.0.0.1 cannot drive it.
 */
export function requireKnownHost(
  app: FastifyInstance,
  config: Pick<Config, 'apiToken' | 'publicBaseUrl'>,
): void {
  if (config.apiToken) return;
  const publicHost = new URL(config.publicBaseUrl).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  app.addHook('onRequest', async (request) => {
    if (HOST_FREE.test(request.url)) return;
    const name = hostName(request.headers.host).toLowerCase();
    if (isLoopbackHost(name) || name === publicHost) return;
    throw new HttpError(
      403,
      'host_not_allowed',
      'without API_TOKEN the API answers requests to localhost only; set API_TOKEN to serve other names',
    );
  });
}
