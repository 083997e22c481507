/**
 * A time-skipping Temporal for tests of long timers: the Java test server from Maven Central
 * (`scripts/setup.sh --for-tests` fetches it and writes `.tools/bin/temporal-test-server`),
 * launched by `TestWorkflowEnvironment.createTimeSkipping` as an `existing-path` executable, never
 * the SDK's own download. It has no Worker Versioning, visibility queries, priorities or task-queue
 * rate limits: tests that need those stay on the dev server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions.ts';
import proto from '@temporalio/proto';

const wrapper = join(import.meta.dirname, '..', '..', '.tools', 'bin', 'temporal-test-server');

const SEARCH_ATTRIBUTE_TYPES = {
  Keyword: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Bool: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Int: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/**
 * The SDK gives the server 5 s to listen, a JVM on a busy machine (the whole suite beside it) can
 * take longer: a start that timed out is tried again, warmer, up to three times.
 */
async function createWithRetries(): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: wrapper } },
      });
    } catch (error) {
      const slowStart = error instanceof Error && /did not start within/.test(error.message);
      if (!slowStart || attempt >= 3) throw error;
    }
  }
}

/** The test server with the contract's search attributes registered. */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  if (!existsSync(wrapper)) {
    throw new Error(
      'the time-skipping test server is missing: run `bash scripts/setup.sh --for-tests` (it fetches it with Maven)',
    );
  }
  // Quiet: the SDK's own runtime logs warnings about the test server's missing features.
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed by an earlier file in this process
  }
  const env = await createWithRetries();
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, SEARCH_ATTRIBUTE_TYPES[type]]),
    ),
  });
  return env;
}

/** The run's prebuilt bundle (TEST_WORKFLOW_BUNDLE), else one built now. */
export async function workflowBundle(): Promise<NonNullable<WorkerOptions['workflowBundle']>> {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (codePath) return { codePath };
  return bundleWorkflowCode({
    workflowsPath: join(import.meta.dirname, '..', '..', 'src', 'workflows', 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
}

/** A plain worker on the test server: one queue, the activities the test hands in. */
export async function timeSkippingWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: WorkerOptions['activities'],
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
}
