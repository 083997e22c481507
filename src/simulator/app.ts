import { randomInt } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { DebugRequestLog } from '../observability/logging.ts';
import { controlRoutes } from './control-routes.ts';
import { Engine } from './engine.ts';
import { faultConfigSchema, type FaultConfig, NO_FAULTS } from './faults.ts';
import { mediaRoutes } from './media-routes.ts';
import { providerRoutes } from './provider-routes.ts';
import { PROVIDER_RATE_LIMIT, type RateLimit, RateLimiter } from './rate-limit.ts';
import { envelope } from './shapes.ts';
import { SimStats } from './stats.ts';
import { SimulatorStore } from './store.ts';

export type { FaultConfig } from './faults.ts';
export type { RateLimit } from './rate-limit.ts';

export interface SimulatorOptions {
  /** The bearer key to require; undefined accepts any non-empty key. */
  apiKey?: string;
  /** Multiplies every provider timing (phases, callback delays, redeliveries); 0.01 makes minutes seconds. */
  timeScale?: number;
  /** Seeds task ids and every fault decision; random (and reported by GET /__sim/faults) when absent. */
  seed?: number;
  /** Tasks that may be created before submits answer 429. */
  quota?: number;
  faults?: Partial<FaultConfig>;
  logger?: FastifyServerOptions['logger'];
  /** Defaults to the provider's 20 requests per 10 s per key; false turns it off. */
  rateLimit?: RateLimit | false;
  /** SQLite file that keeps tasks and owed callbacks across restarts; undefined: memory only. */
  dataFile?: string;
}

/**
 * Builds the provider simulator; never listens. `close()` stops every timer and delivery.
 * Provider routes are as PROVIDER.md; `/media/…` serves the files; `/__sim/…` inspects and controls.
 */
export async function buildSimulator(options: SimulatorOptions = {}): Promise<FastifyInstance> {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be positive, got ${timeScale}`);
  const faults = faultConfigSchema.parse({ ...NO_FAULTS, ...options.faults });
  const seed = options.seed ?? randomInt(2 ** 31);
  const quota = options.quota;

  // Requests at debug only: the service's polling would drown everything else.
  const app = Fastify({ logger: options.logger ?? false, logController: new DebugRequestLog() });
  const stats = new SimStats();
  const store = options.dataFile ? new SimulatorStore(options.dataFile) : undefined;
  const engine = new Engine({ seed, timeScale, faults, quota, stats, log: app.log, store });
  const rateLimit = options.rateLimit ?? PROVIDER_RATE_LIMIT;
  const limiter = rateLimit ? new RateLimiter(rateLimit) : undefined;

  // Malformed JSON and the like: the provider's envelope, never Fastify's own error shape.
  app.setErrorHandler((error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'simulator error');
      return reply.code(500).send(envelope(500, 'Server error.'));
    }
    return reply.code(status).send(envelope(400, error.message));
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(envelope(404, 'Not found')));

  await app.register(providerRoutes, { engine, stats, apiKey: options.apiKey, limiter });
  await app.register(mediaRoutes, { engine, stats });
  await app.register(controlRoutes, { engine, stats, limiter, quota });
  app.addHook('onClose', (_instance, done) => {
    engine.close();
    store?.close();
    done();
  });
  engine.restore();
  app.log.info({ seed, timeScale, quota, faults }, 'provider simulator ready');
  return app;
}
