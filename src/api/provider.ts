import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as contract from '../contract/schemas.ts';
import { KIND_TIMELINES } from '../provider/timings.ts';
import { requireApiToken } from './auth.ts';

/**
 * `GET /v1/provider`: the provider's pace, so clients (the CLI's bar and ETA) expect what this
 * deployment really does: the simulator runs its timelines at SIMULATOR_TIME_SCALE, a real
 * provider at its typical timings.
 */
export async function providerRoutes(app: FastifyInstance): Promise<void> {
  requireApiToken(app);
  const { simulated } = app.config.provider;
  const timeScale = simulated ? app.config.simulator.timeScale : 1;
  const timelines = Object.fromEntries(
    Object.entries(KIND_TIMELINES).map(([kind, phases]) => [
      kind,
      phases.map((phase) => ({ ...phase, atMs: Math.round(phase.atMs * timeScale) })),
    ]),
  );
  app.withTypeProvider<ZodTypeProvider>().get(
    '/provider',
    {
      schema: {
        summary: "The provider's pace",
        description: 'Phase timings as this deployment runs them (the simulator at SIMULATOR_TIME_SCALE).',
        tags: ['tasks'],
        response: { 200: contract.providerPace, ...contract.errors(401) },
      },
    },
    async () => ({ simulated, timeScale, timelines }),
  );
}
