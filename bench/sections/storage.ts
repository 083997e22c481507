/**
 * Dev server storage: the same bare signalWithStart loop (no worker, so nothing but the dev
 * server's own writes) against the dev server in memory, on SQLite with its rollback journal,
 * and on SQLite with write-ahead logging (startDevServer's default since this benchmark showed
 * the difference). Rounds alternate so all three see the same machine noise.
 */
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { CpuMeter } from '../support/cpu.ts';
import { fixed, ms, spread } from '../support/figures.ts';
import { markdownTable } from '../support/table.ts';
import { eachLimited } from '../support/taskWatch.ts';
import { BenchTemporal } from '../support/temporal.ts';

export interface StorageOptions {
  dir: string;
  perRound: number;
  rounds: number;
  concurrency: number;
}

const MODES = [
  { name: 'in memory', file: false, pragmas: undefined },
  { name: 'SQLite file, rollback journal (before)', file: true, pragmas: [] },
  { name: 'SQLite file, WAL (after: the default)', file: true, pragmas: undefined },
] as const;

interface Round {
  mode: string;
  perSecond: number;
  latencies: number[];
  cpu: number;
}

async function round(mode: (typeof MODES)[number], options: StorageOptions, index: number): Promise<Round> {
  const dbFile = mode.file ? join(options.dir, `storage-${index}.sqlite`) : undefined;
  const temporal = await BenchTemporal.start(dbFile, mode.pragmas);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  try {
    const ids = Array.from({ length: options.perRound }, (_, n) => `storage-${index}-${n}`);
    const latencies: number[] = [];
    const meter = new CpuMeter({ temporal: temporal.pid }).begin();
    const started = performance.now();
    await eachLimited(ids, options.concurrency, async (workflowId) => {
      const begun = performance.now();
      // No worker polls this queue: only the server's persistence is measured.
      await client.workflow.signalWithStart('musicTask', {
        workflowId,
        taskQueue: 'storage-bench-nobody-polls',
        args: [],
        signal: 'callback',
        signalArgs: [{}],
      });
      latencies.push(performance.now() - begun);
    });
    const seconds = (performance.now() - started) / 1000;
    return { mode: mode.name, perSecond: ids.length / seconds, latencies, cpu: meter.end().temporal ?? 0 };
  } finally {
    await connection.close();
    await temporal.stop();
  }
}

export async function benchStorage(options: StorageOptions): Promise<string> {
  const rounds: Round[] = [];
  let index = 0;
  for (let repeat = 0; repeat < options.rounds; repeat++) {
    for (const mode of MODES) rounds.push(await round(mode, options, index++));
  }
  const rows = MODES.map((mode) => {
    const ofMode = rounds.filter((entry) => entry.mode === mode.name);
    const latency = spread(ofMode.flatMap((entry) => entry.latencies));
    return {
      name: mode.name,
      perSecond: ofMode.reduce((sum, entry) => sum + entry.perSecond, 0) / ofMode.length,
      rounds: ofMode.map((entry) => fixed(entry.perSecond, 0)).join(', '),
      latency,
      cpu: ofMode.reduce((sum, entry) => sum + entry.cpu, 0) / ofMode.length,
    };
  });
  const memory = rows[0]!.perSecond;
  const before = rows[1]!.perSecond;
  const after = rows[2]!.perSecond;
  return [
    '## Dev server storage (the bottleneck under everything below)',
    '',
    `A bare signalWithStart loop, ${options.perRound} new workflows per round, ${options.concurrency} at a time, no worker: what the dev server alone can persist. ${options.rounds} rounds per mode, alternating.`,
    '',
    markdownTable(
      ['storage', 'signalWithStart/s (mean)', 'per round', 'p50', 'p99', 'dev server CPU'],
      rows.map((row) => [
        row.name,
        fixed(row.perSecond, 0),
        row.rounds,
        ms(row.latency.p50),
        ms(row.latency.p99),
        `${Math.round(row.cpu)} % of one core`,
      ]),
    ),
    '',
    `- WAL against the rollback journal: ${fixed(after / before, 2)}× the throughput; against in-memory: ${fixed(after / memory, 2)}×.`,
    `- Same loop, same dev server, only the storage differs: with the rollback journal the dev server used ${Math.round(rows[1]!.cpu)} % of a core and did ${fixed(before, 0)} starts/s; with WAL ${Math.round(rows[2]!.cpu)} % for ${fixed(after, 0)}/s. The time goes into rewriting and syncing the database file, not into our processes (none runs here).`,
  ].join('\n');
}
