/**
 * `npm run bench [-- --quick] [-- --only NAME …]`: the dev server's storage alone, webhook ingest
 * against its ceiling, end to end through the simulator with and without callbacks, the fleet at the
 * provider's rate limit (one and two workers), scale on one worker, worker memory against its
 * workflow cache, live progress over event streams (latency, 1,000 subscribers), and the production shape (Temporal on PostgreSQL, one and two workers) beside the
 * dev server. Each section gets its own Temporal, so no section's leftovers weigh on the next.
 * Prints the report; a full run writes it to bench/RESULTS.md.
 * `--quick` uses small counts (a smoke check, a few minutes) and writes nothing.
 * `--only NAME` (repeatable) runs those sections alone and replaces each in bench/RESULTS.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { benchClusterShape } from './sections/clusterShape.ts';
import { benchEndToEnd } from './sections/endToEnd.ts';
import { benchEvents } from './sections/events.ts';
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
const plan = quick
  ? {
      storage: { perRound: 100, rounds: 1, concurrency: 16 },
      ingest: { perRound: 200, rounds: 1, concurrency: 16 },
      tasksPerKind: 1,
      fleet: [
        { tasks: 100, limit: { requests: 20, windowMs: 10_000 }, workers: 1 },
        { tasks: 100, limit: { requests: 20, windowMs: 10_000 }, workers: 2 },
      ],
      scale: { counts: [40], pollIntervalMs: 4_000, windowMs: 4_000 },
      cache: { tasks: 40, cacheSizes: [1_000, 20] },
      shape: { tasksPerKind: 1, callbacks: 200, concurrency: 16 },
      events: { latencySongs: 5, fanOutSongs: 5, subscribers: 100, globalSubscribers: 10 },
    }
  : {
      storage: { perRound: 500, rounds: 2, concurrency: 16 },
      ingest: { perRound: 1_000, rounds: 2, concurrency: 32 },
      tasksPerKind: 10,
      fleet: [
        { tasks: 200, limit: { requests: 20, windowMs: 10_000 }, workers: 1 },
        { tasks: 200, limit: { requests: 20, windowMs: 10_000 }, workers: 2 },
        // Limit and budget raised together keep the run short: the figures are ratios.
        { tasks: 1_000, limit: { requests: 100, windowMs: 10_000 }, workers: 1 },
        { tasks: 1_000, limit: { requests: 100, windowMs: 10_000 }, workers: 2 },
      ],
      scale: { counts: [1_000, 5_000], pollIntervalMs: 10_000, windowMs: 20_000 },
      cache: { tasks: 1_500, cacheSizes: [1_000, 250] },
      shape: { tasksPerKind: 2, callbacks: 1_000, concurrency: 32 },
      events: { latencySongs: 30, fanOutSongs: 50, subscribers: 1_000, globalSubscribers: 50 },
    };

const say = (message: string) => process.stderr.write(`bench: ${message}\n`);
const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'music-tasks-bench-'));

/** Runs a section on a dev server of its own. */
async function onOwnTemporal<T>(
  name: string,
  section: (temporal: BenchTemporal) => Promise<T>,
  storage: 'file' | 'memory' = 'file',
): Promise<T> {
  say(`${name}…`);
  const temporal = await BenchTemporal.start(storage === 'file' ? join(dir, `${name}.sqlite`) : undefined);
  try {
    return await section(temporal);
  } finally {
    await temporal.stop();
  }
}

/** Every section, in report order; each returns its markdown (starting with its `## ` heading). */
const SECTIONS: Record<string, (bundlePath: string) => Promise<string>> = {
  storage: () => {
    say('dev server storage…');
    return benchStorage({ dir, ...plan.storage });
  },
  ingest: (bundlePath) =>
    onOwnTemporal('ingest', (temporal) =>
      benchIngest({ temporal, bundlePath, dataDir: join(dir, 'ingest'), ...plan.ingest }),
    ),
  'end-to-end': (bundlePath) =>
    onOwnTemporal('end-to-end', (temporal) =>
      benchEndToEnd({
        temporal,
        bundlePath,
        dataDir: (label) => join(dir, `e2e-${label}`),
        tasksPerKind: plan.tasksPerKind,
        timeScale: 0.02,
      }),
    ),
  // In memory: the section measures the budget, and at 1,000 tasks and 10 calls/s a SQLite file is
  // the ceiling (see the storage section), not the budget.
  fleet: (bundlePath) =>
    onOwnTemporal(
      'fleet',
      (temporal) =>
        benchFleet({
          temporal,
          bundlePath,
          dataDir: (label) => join(dir, label),
          runs: plan.fleet,
          timeScale: 0.01,
          storage: 'memory',
          progress: say,
        }),
      'memory',
    ),
  scale: (bundlePath) => {
    say('scale…');
    return benchScale({
      ...plan.scale,
      bundlePath,
      dataDir: join(dir, 'scale'),
      dbFile: join(dir, 'scale.sqlite'),
      progress: say,
    });
  },
  cache: (bundlePath) => {
    say('workflow cache…');
    return benchWorkflowCache({ ...plan.cache, bundlePath, dir, progress: say });
  },
  events: (bundlePath) =>
    onOwnTemporal('events', (temporal) =>
      benchEvents({
        temporal,
        bundlePath,
        dataDir: (label) => join(dir, `events-${label}`),
        ...plan.events,
        // A song takes ~15 s: the 1,000 subscribers are open while the songs still move.
        timeScale: 0.1,
        progress: say,
      }),
    ),
  'production-shape': (bundlePath) => {
    say('production shape…');
    return benchClusterShape({ ...plan.shape, bundlePath, dir, timeScale: 0.02, progress: say });
  },
};

const only = values.only ?? [];
for (const name of only) {
  if (!SECTIONS[name]) {
    console.error(`bench: unknown section "${name}"; sections: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
}

/** Writes a report formatted as `npm test`'s format check expects. */
async function writeResults(text: string): Promise<void> {
  const target = join(import.meta.dirname, 'RESULTS.md');
  const style = await prettier.resolveConfig(target);
  writeFileSync(target, await prettier.format(text, { ...style, filepath: target }));
  say('written to bench/RESULTS.md');
}

/** RESULTS.md with one section replaced (or added at the end). */
function withSection(results: string, section: string): string {
  const heading = section.split('\n')[0]!;
  const start = results.indexOf(`${heading}\n`);
  if (start < 0) return `${results.trimEnd()}\n\n${section}\n`;
  const next = results.indexOf('\n## ', start + heading.length);
  return `${results.slice(0, start)}${section}\n${next < 0 ? '' : results.slice(next)}`;
}

try {
  const bundlePath = await bundleWorkflows(dir);
  if (only.length) {
    const target = join(import.meta.dirname, 'RESULTS.md');
    let results = readFileSync(target, 'utf8');
    for (const name of only) {
      const begun = new Date();
      const load = () =>
        loadavg()
          .map((value) => value.toFixed(1))
          .join(', ');
      const loadBefore = load();
      const body = await SECTIONS[name]!(bundlePath);
      // A section run alone says when, and on how busy a machine: it is compared with the others.
      const [heading, ...rest] = body.split('\n');
      const section = [
        heading,
        '',
        `_From \`npm run bench -- --only ${name}\`, ${begun.toISOString().slice(0, 16)}Z to ${new Date().toISOString().slice(11, 16)}Z, load average ${loadBefore} before and ${load()} after (other users of the machine included)._`,
        ...rest,
      ].join('\n');
      console.log(section);
      results = withSection(results, section);
    }
    if (!quick) await writeResults(results);
  } else {
    const sections: string[] = [];
    for (const run of Object.values(SECTIONS)) sections.push(await run(bundlePath));
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
    if (!quick) await writeResults(report);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
