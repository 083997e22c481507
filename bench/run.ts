/**
 * `npm run bench [-- --quick] [-- --only production-shape]`: the dev server's storage alone,
 * webhook ingest against its ceiling, end to end through the simulator with and without callbacks,
 * scale on one worker, worker memory against its workflow cache, and the production shape
 * (Temporal on PostgreSQL, one and two workers) beside the dev server. Each section gets its own
 * Temporal, so no section's leftovers weigh on the next. Prints the report and, for a full run,
 * writes it to bench/RESULTS.md.
 * `--quick` uses small counts (a smoke check, under two minutes) and writes nothing.
 * `--only production-shape` runs that section alone and replaces it in bench/RESULTS.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { benchClusterShape } from './sections/clusterShape.ts';
import { benchEndToEnd } from './sections/endToEnd.ts';
import { benchIngest } from './sections/ingest.ts';
import { benchScale } from './sections/scale.ts';
import { benchStorage } from './sections/storage.ts';
import { benchWorkflowCache } from './sections/workflowCache.ts';
import { describeMachine } from './support/machine.ts';
import { BenchTemporal, bundleWorkflows } from './support/temporal.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const quick = values.quick;
if (values.only !== undefined && values.only !== 'production-shape') {
  console.error(`bench: --only takes production-shape (got ${values.only})`);
  process.exit(2);
}
const plan = quick
  ? {
      storage: { perRound: 100, rounds: 1, concurrency: 16 },
      ingest: { perRound: 200, rounds: 1, concurrency: 16 },
      tasksPerKind: 1,
      scale: { counts: [40], pollIntervalMs: 4_000, windowMs: 4_000 },
      cache: { tasks: 40, cacheSizes: [1_000, 20] },
      shape: { tasksPerKind: 1, callbacks: 200, concurrency: 16 },
    }
  : {
      storage: { perRound: 500, rounds: 2, concurrency: 16 },
      ingest: { perRound: 1_000, rounds: 2, concurrency: 32 },
      tasksPerKind: 10,
      scale: { counts: [1_000, 5_000], pollIntervalMs: 10_000, windowMs: 20_000 },
      cache: { tasks: 1_500, cacheSizes: [1_000, 250] },
      shape: { tasksPerKind: 2, callbacks: 1_000, concurrency: 32 },
    };

const say = (message: string) => process.stderr.write(`bench: ${message}\n`);
const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'music-tasks-bench-'));

/** Runs a section on a dev server of its own. */
async function onOwnTemporal<T>(name: string, section: (temporal: BenchTemporal) => Promise<T>): Promise<T> {
  say(`${name}…`);
  const temporal = await BenchTemporal.start(join(dir, `${name}.sqlite`));
  try {
    return await section(temporal);
  } finally {
    await temporal.stop();
  }
}

/** Writes a report formatted as `npm test`'s format check expects. */
async function writeResults(text: string): Promise<void> {
  const target = join(import.meta.dirname, 'RESULTS.md');
  const style = await prettier.resolveConfig(target);
  writeFileSync(target, await prettier.format(text, { ...style, filepath: target }));
  say('written to bench/RESULTS.md');
}

const productionShape = (bundlePath: string) =>
  benchClusterShape({ ...plan.shape, bundlePath, dir, timeScale: 0.02, progress: say });

/** RESULTS.md with its production-shape section replaced (or added at the end). */
function withSection(results: string, section: string): string {
  const heading = section.split('\n')[0]!;
  const start = results.indexOf(heading);
  if (start < 0) return `${results.trimEnd()}\n\n${section}\n`;
  const next = results.indexOf('\n## ', start + heading.length);
  return `${results.slice(0, start)}${section}\n${next < 0 ? '' : results.slice(next)}`;
}

try {
  const bundlePath = await bundleWorkflows(dir);
  if (values.only) {
    const section = await productionShape(bundlePath);
    console.log(section);
    const target = join(import.meta.dirname, 'RESULTS.md');
    if (!quick) await writeResults(withSection(readFileSync(target, 'utf8'), section));
  } else {
    await fullRun(bundlePath);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function fullRun(bundlePath: string): Promise<void> {
  say('dev server storage…');
  const storage = await benchStorage({ dir, ...plan.storage });
  const ingest = await onOwnTemporal('ingest', (temporal) =>
    benchIngest({ temporal, bundlePath, dataDir: join(dir, 'ingest'), ...plan.ingest }),
  );
  const endToEnd = await onOwnTemporal('end-to-end', (temporal) =>
    benchEndToEnd({
      temporal,
      bundlePath,
      dataDir: (label) => join(dir, `e2e-${label}`),
      tasksPerKind: plan.tasksPerKind,
      timeScale: 0.02,
    }),
  );
  say('scale…');
  const scale = await benchScale({
    ...plan.scale,
    bundlePath,
    dataDir: join(dir, 'scale'),
    dbFile: join(dir, 'scale.sqlite'),
    progress: say,
  });
  say('workflow cache…');
  const cache = await benchWorkflowCache({ ...plan.cache, bundlePath, dir, progress: say });
  say('production shape…');
  const shape = await productionShape(bundlePath);
  const report = [
    '# Benchmark results',
    '',
    `Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${Math.round((Date.now() - started) / 1000)} s). Figures are from one run on a shared machine: compare the ratios measured side by side, not absolute numbers across runs.`,
    '',
    ...describeMachine(),
    '',
    storage,
    '',
    ingest,
    '',
    endToEnd,
    '',
    scale,
    '',
    cache,
    '',
    shape,
    '',
  ].join('\n');
  console.log(report);
  if (!quick) await writeResults(report);
}
