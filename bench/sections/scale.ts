/**
 * Scale: N tasks waiting at once on one worker against the dev server (SQLite file). Per N:
 * start rate, worker RSS and heap while they wait, time to drain them with callbacks; then N more
 * that poll on a short interval, for polls per second (achieved against demanded) and the time
 * to drain by polling alone. Process CPU from /proc shows which part is the bottleneck.
 */
import { Client, Connection } from '@temporalio/client';
import { CpuMeter, describeCpu, rssBytes } from '../support/cpu.ts';
import { against, fixed, mib, ms, spread } from '../support/figures.ts';
import { PendingProvider } from '../support/pendingProvider.ts';
import { startService, type Service } from '../support/service.ts';
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

export interface ScaleOptions {
  counts: number[];
  bundlePath: string;
  dataDir: string;
  dbFile: string;
  /** Poll interval of the polling phase. */
  pollIntervalMs: number;
  /** How long polls are counted. */
  windowMs: number;
  progress: (message: string) => void;
}

interface ScaleFigures {
  count: number;
  startsPerSecond: number;
  startLatency: ReturnType<typeof spread>;
  startCpu: Record<string, number>;
  settleMs: number;
  waiting: Memory;
  temporalRss: number;
  callbackDrainMs: number;
  callbackDrainCpu: Record<string, number>;
  pollsDemanded: number;
  pollsAchieved: number;
  pollCpu: Record<string, number>;
  polling: Memory;
  pollDrainMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const HOUR = 3_600_000;

async function measure(
  count: number,
  options: ScaleOptions,
  context: { client: Client; service: Service; provider: PendingProvider; temporal: BenchTemporal },
): Promise<ScaleFigures> {
  const { client, service, provider, temporal } = context;
  const queue = service.env.TEMPORAL_TASK_QUEUE!;
  const pids = {
    temporal: temporal.pid,
    worker: service.worker.pid,
    server: service.server.pid,
    bench: process.pid,
  };
  const settings = (pollMs: number) => lyricsTracking(service, pollMs);
  const say = (message: string) => options.progress(`scale ${count}: ${message}`);

  // Waiting: long polls, nothing happens until the callbacks come.
  provider.reopen();
  say('starting tasks that wait');
  const ids = Array.from({ length: count }, (_, index) => `scale-${count}-wait-${index}`);
  const startMeter = new CpuMeter(pids).begin();
  const starts = await startTasks(client, settings(HOUR), ids);
  const startCpu = startMeter.end();
  const settleMs = await quiet([service.worker.pid!, temporal.pid!], 180_000);
  const waiting = await memoryOf(service.worker);
  const temporalRss = rssBytes(temporal.pid!) ?? 0;
  say(`waiting with worker RSS ${mib(waiting.rss)}; draining with callbacks`);

  provider.finish();
  const drainMeter = new CpuMeter(pids).begin();
  const drainStarted = Date.now();
  await completeByCallbacks(service, ids);
  await drained(client, queue, 10 * 60_000);
  const callbackDrainMs = Date.now() - drainStarted;
  const callbackDrainCpu = drainMeter.end();

  // Polling: every task asks the provider every pollIntervalMs.
  provider.reopen();
  say(`drained in ${ms(callbackDrainMs)}; starting tasks that poll every ${ms(options.pollIntervalMs)}`);
  const pollIds = Array.from({ length: count }, (_, index) => `scale-${count}-poll-${index}`);
  await startTasks(client, settings(options.pollIntervalMs), pollIds);
  await sleep(options.pollIntervalMs * 1.2);
  const pollMeter = new CpuMeter(pids).begin();
  const queriesBefore = provider.queries;
  await sleep(options.windowMs);
  const pollsAchieved = (provider.queries - queriesBefore) / (options.windowMs / 1000);
  const pollCpu = pollMeter.end();
  const polling = await memoryOf(service.worker);
  say(`${fixed(pollsAchieved, 0)} polls/s; draining by polls`);
  provider.finish();
  const pollDrainMs = await drained(client, queue, 15 * 60_000);

  return {
    count,
    startsPerSecond: count / starts.seconds,
    startLatency: spread(starts.latencies),
    startCpu,
    settleMs,
    waiting,
    temporalRss,
    callbackDrainMs,
    callbackDrainCpu,
    pollsDemanded: count / (options.pollIntervalMs / 1000),
    pollsAchieved,
    pollCpu,
    polling,
    pollDrainMs,
  };
}

export async function benchScale(options: ScaleOptions): Promise<string> {
  const temporal = await BenchTemporal.start(options.dbFile);
  const provider = await new PendingProvider().start();
  const service = await startService({
    temporalAddress: temporal.address,
    providerUrl: provider.url,
    dataDir: options.dataDir,
    worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
  });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  try {
    await quiet([service.worker.pid!], 30_000);
    const idle = await memoryOf(service.worker);
    const figures: ScaleFigures[] = [];
    for (const count of options.counts) {
      figures.push(await measure(count, options, { client, service, provider, temporal }));
    }
    return describeScale(figures, idle, options);
  } finally {
    await connection.close();
    await service.close();
    await provider.close();
    await temporal.stop();
  }
}

function describeScale(figures: ScaleFigures[], idle: Memory, options: ScaleOptions): string {
  const waitingTable = markdownTable(
    [
      'tasks',
      'starts/s',
      'start p50',
      'start p99',
      'CPU while starting',
      'worker RSS waiting',
      'heap used / total',
      'RSS per task over idle',
      'dev server RSS',
      'drain by callbacks',
      'CPU while draining',
    ],
    figures.map((row) => [
      row.count,
      fixed(row.startsPerSecond, 0),
      ms(row.startLatency.p50),
      ms(row.startLatency.p99),
      describeCpu(row.startCpu),
      mib(row.waiting.rss),
      `${mib(row.waiting.heapUsed)} / ${mib(row.waiting.heapTotal)}`,
      `${fixed((row.waiting.rss - idle.rss) / row.count / 1024, 1)} KiB`,
      mib(row.temporalRss),
      `${ms(row.callbackDrainMs)} (${fixed(row.count / (row.callbackDrainMs / 1000), 0)} tasks/s)`,
      describeCpu(row.callbackDrainCpu),
    ]),
  );
  const pollingTable = markdownTable(
    [
      'tasks',
      'polls/s demanded',
      'polls/s achieved',
      'achieved / demanded',
      'CPU while polling',
      'worker RSS polling',
      'drain by polls',
    ],
    figures.map((row) => [
      row.count,
      fixed(row.pollsDemanded, 0),
      fixed(row.pollsAchieved, 0),
      fixed(row.pollsAchieved / row.pollsDemanded, 2),
      describeCpu(row.pollCpu),
      mib(row.polling.rss),
      ms(row.pollDrainMs),
    ]),
  );
  const largest = figures.at(-1);
  return [
    '## Scale (one worker, dev server on a SQLite file)',
    '',
    `Lyrics tasks tracked with \`startTracking\` (32 at a time) against a provider whose query says PENDING. Idle worker before any task: RSS ${mib(idle.rss)}, heap ${mib(idle.heapUsed)}. The worker caches at most 1,000 workflow runs (createMusicWorker's default); the others are evicted and replay their (short) history when they wake.`,
    '',
    '### Waiting (POLL_INTERVAL 1 h), then drained by one `complete` callback each (16 at a time, through the webhook)',
    '',
    waitingTable,
    '',
    `### Polling (POLL_INTERVAL = POLL_MAX_INTERVAL = ${ms(options.pollIntervalMs)}), counted for ${ms(options.windowMs)} at the provider, then drained by polls alone`,
    '',
    pollingTable,
    '',
    largest
      ? `- ${largest.count} tasks waiting: worker RSS ${against(mib(largest.waiting.rss), '≤ 1 GiB', largest.waiting.rss <= 2 ** 30)}${largest.count < 5000 ? " (quick run: fewer tasks than the target's 5,000)" : ''}`
      : '',
    '- CPU is % of one core (the machine has the cores listed above); `temporal` is the dev server process, `bench` this process (the load generator).',
  ].join('\n');
}
