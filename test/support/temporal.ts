/**
 * Test helpers: a config per test (own task queues, own data dir) against the run's one Temporal
 * dev server, and a worker built from the run's one workflow bundle.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../../src/config.ts';
import type { ActivityDeps } from '../../src/activities/index.ts';
import { createMusicWorker } from '../../src/worker.ts';

export function temporalAddress(): string {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEST_TEMPORAL_ADDRESS is unset: run the tests with `npm test` (it starts Temporal)');
  return address;
}

export function scratchDir(prefix = 'case'): string {
  return mkdtempSync(join(process.env.TEST_SCRATCH_DIR ?? tmpdir(), `${prefix}-`));
}

/** A config on the test server with task queues no other test polls. */
export function testConfig(env: Record<string, string> = {}): Config {
  const id = randomUUID().slice(0, 8);
  return loadConfig({
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: `test-${id}`,
    POSTPROCESS_TASK_QUEUE: `test-${id}-post`,
    DATA_DIR: scratchDir(),
    WEBHOOK_SECRET: `test-secret-${randomUUID()}`,
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...env,
  });
}

export async function testClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
}

/** Runs a worker for the test's queues until the returned stop function is called. */
export async function startTestWorker(config: Config, deps: Partial<ActivityDeps> = {}) {
  const bundlePath = process.env.TEST_WORKFLOW_BUNDLE;
  const worker = await createMusicWorker({
    config,
    deps,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
    maxCachedWorkflows: 100,
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}
