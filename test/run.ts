/**
 * The test command: one Temporal dev server (free port, in-memory database) and one workflow
 * bundle for the whole run, then node's test runner over every `*.test.ts` under test/.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { MANY_TASK_QUEUES, startDevServer } from '../src/temporal/devServer.ts';
import { freePort } from './support/ports.ts';

const testDir = import.meta.dirname;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'support' ? [] : testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  const files = testFiles(testDir)
    .filter((file) => !filter.length || filter.some((part) => file.includes(part)))
    .sort();
  const scratch = mkdtempSync(join(tmpdir(), 'music-tasks-test-'));
  const started = Date.now();
  const [server, bundle] = await Promise.all([
    freePort().then((port) =>
      startDevServer({
        port,
        // Every test's task queues join the one Worker Deployment Version the tests' workers share.
        dynamicConfig: MANY_TASK_QUEUES,
      }),
    ),
    bundleWorkflowCode({
      workflowsPath: join(testDir, '..', 'src', 'workflows', 'index.ts'),
      logger: new DefaultLogger('WARN'),
    }),
  ]);
  const bundlePath = join(scratch, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  console.log(
    `test: Temporal dev server on ${server.address}, workflows bundled (${Date.now() - started} ms)`,
  );
  try {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=4',
        ...files.map((f) => relative(process.cwd(), f)),
      ],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          TEST_TEMPORAL_ADDRESS: server.address,
          TEST_WORKFLOW_BUNDLE: bundlePath,
          TEST_SCRATCH_DIR: scratch,
        },
      },
    );
    // A test file that leaves a handle open never exits: fail the run instead of hanging CI.
    const limitMs = Number(process.env.TEST_RUN_TIMEOUT_MS ?? 30 * 60_000);
    const watchdog = setTimeout(() => {
      console.error(
        `test: the run did not finish within ${limitMs} ms (a test left a handle open?); stopping it`,
      );
      child.kill('SIGKILL');
    }, limitMs);
    return await new Promise<number>((resolve) =>
      child.once('exit', (code) => {
        clearTimeout(watchdog);
        resolve(code ?? 1);
      }),
    );
  } finally {
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
