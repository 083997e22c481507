import { join } from 'node:path';
import ms from 'ms';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config.ts';
import { fastifyLoggerOptions } from '../observability/logging.ts';
import { onShutdown } from '../shutdown.ts';
import { buildSimulator } from './app.ts';
import { faultUpdateSchema } from './faults.ts';
import { type RateLimit } from './rate-limit.ts';

/** `npm run simulator`: the provider simulator on 127.0.0.1:SIMULATOR_PORT. */

/** Simulator-only settings, read here because nothing else in the service needs them. */
const simulatorEnv = z.object({
  SIMULATOR_QUOTA: z.coerce.number().int().nonnegative().optional(),
  /** JSON of the fault config, e.g. {"dropCallback":0.2,"seed":7}. */
  SIMULATOR_FAULTS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text?.trim()) return {};
      try {
        return faultUpdateSchema.parse(JSON.parse(text));
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `expected fault JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
    }),
  /** "20/10s" (requests per window), or "off". */
  SIMULATOR_RATE_LIMIT: z
    .string()
    .optional()
    .transform((text, ctx): RateLimit | false | undefined => {
      if (!text?.trim()) return undefined;
      if (text.trim() === 'off') return false;
      const [max, window] = text.split('/');
      const windowMs = /^\d+$/.test(window ?? '') ? Number(window) : ms((window ?? '') as ms.StringValue);
      if (!Number.isInteger(Number(max)) || Number(max) < 1 || !(windowMs > 0)) {
        ctx.addIssue({ code: 'custom', message: 'expected "<max>/<window>" like 20/10s, or "off"' });
        return z.NEVER;
      }
      return { max: Number(max), windowMs };
    }),
});

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const extra = simulatorEnv.safeParse(process.env);
  if (!extra.success) {
    throw new ConfigError(
      extra.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n'),
    );
  }
  const { seed, ...faults } = extra.data.SIMULATOR_FAULTS;
  const app = await buildSimulator({
    apiKey: config.simulator.apiKey,
    timeScale: config.simulator.timeScale,
    seed: seed ?? config.simulator.seed,
    quota: extra.data.SIMULATOR_QUOTA,
    faults,
    rateLimit: extra.data.SIMULATOR_RATE_LIMIT,
    logger: fastifyLoggerOptions(config),
    // A real provider keeps working while we are down: so does the simulator.
    dataFile: join(config.dataDir, 'simulator.sqlite'),
  });
  // SIMULATOR_HOST, not HOST: loopback unless told otherwise, whatever the API server binds to.
  await app.listen({ port: config.simulator.port, host: config.simulator.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.simulator.port;
  console.log(`provider simulator listening on http://${config.simulator.host}:${port}`);

  onShutdown('simulator', async ({ signal }) => {
    app.log.info({ signal }, 'shutting down');
    // close() also cancels every phase timer and callback delivery (the app's onClose hook).
    await app.close();
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
