/**
 * Worker memory against the size of its workflow cache: the same N waiting tasks on workers with
 * different `maxCachedWorkflows`, then woken by one callback each. A smaller cache costs a replay
 * of the (short) history when an evicted run wakes; the wake-up figures show what that costs.
 */
import { Client, Connection } from '@temporalio/client';
import { fixed, mib, ms } from '../support/figures.ts';
import { PendingProvider } from '../support/pendingProvider.ts';
import { startService } from '../support/service.ts';
import { markdownTable } from '../support/table.ts';
import { BenchTemporal } from '../support/temporal.ts';
import {
  completeByCallbacks,
  drained,
  lyricsTracking,
  memoryOf,
  quiet,
  startTasks,
  type Memory,
} from '../support/workerLoad.ts';

export interface WorkflowCacheOptions {
  tasks: number;
  cacheSizes: number[];
  bundlePath: string;
  dir: string;
  progress: (message: string) => void;
}

interface CacheFigures {
  cacheSize: number;
  idle: Memory;
  waiting: Memory;
  wakeMs: number;
}

export async function benchWorkflowCache(options: WorkflowCacheOptions): Promise<string> {
  const figures: CacheFigures[] = [];
  for (const cacheSize of options.cacheSizes) {
    options.progress(`workflow cache ${cacheSize}: ${options.tasks} waiting tasks`);
    const temporal = await BenchTemporal.start(`${options.dir}/cache-${cacheSize}.sqlite`);
    const provider = await new PendingProvider().start();
    const service = await startService({
      temporalAddress: temporal.address,
      providerUrl: provider.url,
      dataDir: `${options.dir}/cache-${cacheSize}`,
      env: { BENCH_MAX_CACHED_WORKFLOWS: String(cacheSize) },
      worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
    });
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    try {
      await quiet([service.worker.pid!], 30_000);
      const idle = await memoryOf(service.worker);
      const ids = Array.from({ length: options.tasks }, (_, index) => `cache-${cacheSize}-${index}`);
      await startTasks(client, lyricsTracking(service, 3_600_000), ids);
      await quiet([service.worker.pid!, temporal.pid!], 180_000);
      const waiting = await memoryOf(service.worker);
      provider.finish();
      const woken = Date.now();
      await completeByCallbacks(service, ids);
      await drained(client, service.env.TEMPORAL_TASK_QUEUE!, 10 * 60_000);
      figures.push({ cacheSize, idle, waiting, wakeMs: Date.now() - woken });
    } finally {
      await connection.close();
      await service.close();
      await provider.close();
      await temporal.stop();
    }
  }
  return [
    '## Worker memory against its workflow cache',
    '',
    `${options.tasks} lyrics tasks waiting on one worker, for each cache size (\`maxCachedWorkflows\`), each on a fresh dev server; then one \`complete\` callback each (16 at a time) and the time until all closed.`,
    '',
    markdownTable(
      [
        'maxCachedWorkflows',
        'idle RSS',
        'RSS waiting',
        'heap used / total waiting',
        'RSS per cached run',
        'wake all (callbacks → closed)',
      ],
      figures.map((row) => {
        const cached = Math.min(row.cacheSize, options.tasks);
        return [
          row.cacheSize,
          mib(row.idle.rss),
          mib(row.waiting.rss),
          `${mib(row.waiting.heapUsed)} / ${mib(row.waiting.heapTotal)}`,
          `${fixed((row.waiting.rss - row.idle.rss) / cached / 1024, 0)} KiB`,
          `${ms(row.wakeMs)} (${fixed(options.tasks / (row.wakeMs / 1000), 0)} tasks/s)`,
        ];
      }),
    ),
  ].join('\n');
}
