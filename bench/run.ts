/**
 * `npm run bench [-- --quick]`: the dev server's storage alone, webhook ingest against its
 * ceiling, end to end through the simulator with and without callbacks, the fleet at the provider's
 * rate limit (one and two workers), scale on one worker, and
 * worker memory against its workflow cache. Each section gets its own Temporal dev server on a
 * SQLite file (the embedded default), so no section's leftovers weigh on the next. Prints the
 * report and, for a full run, writes it to bench/RESULTS.md.
 * `--quick` uses small counts (a smoke check, a few minutes) and writes nothing; `--only NAME` runs
 * the named sections alone and writes nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { benchEndToEnd } from './sections/endToEnd.ts';
import { benchFleet } from './sections/fleet.ts';
import { benchIngest } from './sections/ingest.ts';
import { benchScale } from './sections/scale.ts';
import { benchStorage } from './sections/storage.ts';
import { benchWorkflowCache } from './sections/workflowCache.ts';
import { describeMachine } from './support/machine.ts';
import { BenchTemporal, bundleWorkflows } from './support/temporal.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string', multiple: true } },
});
const quick = values.quick;
const SECTIONS = ['storage', 'ingest', 'end-to-end', 'fleet', 'scale', 'cache'] as const;
const only = values.only ?? [];
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name)) {
    console.error(`bench: unknown section "${name}"; sections: ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
}
/** `--only NAME` (repeatable) runs those sections alone and writes nothing. */
const wanted = (name: (typeof SECTIONS)[number]) => !only.length || only.includes(name);
const plan = quick
  ? {
      storage: { perRound: 100, rounds: 1, concurrency: 16 },
      ingest: { perRound: 200, rounds: 1, concurrency: 16 },
      tasksPerKind: 1,
      scale: { counts: [40], pollIntervalMs: 4_000, windowMs: 4_000 },
      cache: { tasks: 40, cacheSizes: [1_000, 20] },
      fleet: [
        { tasks: 100, limit: { requests: 20, windowMs: 10_000 }, workers: 1 },
        { tasks: 100, limit: { requests: 20, windowMs: 10_000 }, workers: 2 },
      ],
    }
  : {
      storage: { perRound: 500, rounds: 2, concurrency: 16 },
      ingest: { perRound: 1_000, rounds: 2, concurrency: 32 },
      tasksPerKind: 10,
      scale: { counts: [1_000, 5_000], pollIntervalMs: 10_000, windowMs: 20_000 },
      cache: { tasks: 1_500, cacheSizes: [1_000, 250] },
      fleet: [
        { tasks: 200, limit: { requests: 20, windowMs: 10_000 }, workers: 1 },
        { tasks: 200, limit: { requests: 20, windowMs: 10_000 }, workers: 2 },
        // Limit and budget raised together keep the run short: the figures are ratios.
        { tasks: 1_000, limit: { requests: 100, windowMs: 10_000 }, workers: 1 },
        { tasks: 1_000, limit: { requests: 100, windowMs: 10_000 }, workers: 2 },
      ],
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

try {
  const bundlePath = await bundleWorkflows(dir);
  const sections: string[] = [];
  if (wanted('storage')) {
    say('dev server storage…');
    sections.push(await benchStorage({ dir, ...plan.storage }));
  }
  if (wanted('ingest')) {
    sections.push(
      await onOwnTemporal('ingest', (temporal) =>
        benchIngest({ temporal, bundlePath, dataDir: join(dir, 'ingest'), ...plan.ingest }),
      ),
    );
  }
  if (wanted('end-to-end')) {
    sections.push(
      await onOwnTemporal('end-to-end', (temporal) =>
        benchEndToEnd({
          temporal,
          bundlePath,
          dataDir: (label) => join(dir, `e2e-${label}`),
          tasksPerKind: plan.tasksPerKind,
          timeScale: 0.02,
        }),
      ),
    );
  }
  if (wanted('fleet')) {
    sections.push(
      await onOwnTemporal('fleet', (temporal) =>
        benchFleet({
          temporal,
          bundlePath,
          dataDir: (label) => join(dir, label),
          runs: plan.fleet,
          timeScale: 0.01,
          progress: say,
        }),
      ),
    );
  }
  if (wanted('scale')) {
    say('scale…');
    sections.push(
      await benchScale({
        ...plan.scale,
        bundlePath,
        dataDir: join(dir, 'scale'),
        dbFile: join(dir, 'scale.sqlite'),
        progress: say,
      }),
    );
  }
  if (wanted('cache')) {
    say('workflow cache…');
    sections.push(await benchWorkflowCache({ ...plan.cache, bundlePath, dir, progress: say }));
  }
  const report = [
    '# Benchmark results',
    '',
    `Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${Math.round((Date.now() - started) / 1000)} s). Figures are from one run on a shared machine: compare the ratios measured side by side, not absolute numbers across runs.`,
    '',
    ...describeMachine(),
    '',
    ...sections.flatMap((section) => [section, '']),
  ].join('\n');
  console.log(report);
  if (!quick && !only.length) {
    // Formatted as `npm test`'s format check expects.
    const target = join(import.meta.dirname, 'RESULTS.md');
    const style = await prettier.resolveConfig(target);
    writeFileSync(target, await prettier.format(report, { ...style, filepath: target }));
    say('written to bench/RESULTS.md');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
