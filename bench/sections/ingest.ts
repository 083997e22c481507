/**
 * Webhook ingest: valid `text` callbacks for distinct tasks through real HTTP (the server child)
 * into Temporal (signalWithStart), against the ceiling measured in the same run: a bare
 * signalWithStart loop from one client in this process at the same concurrency. Rounds alternate
 * (ABBA) so both sides see the same machine noise and the same drift.
 */
import autocannon from 'autocannon';
import { Client, Connection } from '@temporalio/client';
import { parseCallback } from '../../src/provider/callback.ts';
import { TaskClient, type TrackingSettings } from '../../src/tasks/client.ts';
import { CpuMeter, describeCpu } from '../support/cpu.ts';
import { fixed, ms, spread, against } from '../support/figures.ts';
import { startService } from '../support/service.ts';
import { markdownTable } from '../support/table.ts';
import type { BenchTemporal } from '../support/temporal.ts';

export interface IngestOptions {
  temporal: BenchTemporal;
  bundlePath: string;
  dataDir: string;
  /** Callbacks per measured round, per side. */
  perRound: number;
  rounds: number;
  concurrency: number;
}

interface Round {
  side: 'ceiling' | 'webhook';
  count: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: Record<string, number>;
}

/** A song's first callback: it starts the task's workflow (signalWithStart), like any first news. */
const textCallback = (taskId: string) => ({ callbackType: 'text', task_id: taskId, data: [] });

export async function benchIngest(options: IngestOptions): Promise<string> {
  const service = await startService({
    temporalAddress: options.temporal.address,
    // Nothing polls during this section: the provider is never called.
    providerUrl: 'http://127.0.0.1:9',
    dataDir: options.dataDir,
    env: { POLL_INTERVAL: '1h', POLL_MAX_INTERVAL: '1h', TASK_DEADLINE: '2h' },
    worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
  });
  const connection = await Connection.connect({ address: options.temporal.address });
  const client = new Client({ connection });
  const settings: TrackingSettings = {
    taskQueue: service.env.TEMPORAL_TASK_QUEUE!,
    postprocessTaskQueue: service.env.POSTPROCESS_TASK_QUEUE!,
    providerTaskQueue: `${service.env.TEMPORAL_TASK_QUEUE!}-provider`,
    timing: { pollIntervalMs: 3_600_000, pollMaxIntervalMs: 3_600_000, taskDeadlineMs: 7_200_000 },
  };
  const tasks = new TaskClient(client, settings);
  const pids = {
    temporal: options.temporal.pid,
    server: service.server.pid,
    worker: service.worker.pid,
    bench: process.pid,
  };
  let sequence = 0;
  const nextTaskId = (side: string) => `ingest-${side}-${process.pid}-${sequence++}`;

  const ceiling = async (count: number): Promise<Round> => {
    const latencies: number[] = [];
    let errors = 0;
    let left = count;
    const meter = new CpuMeter(pids).begin();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (left-- > 0) {
          const callback = parseCallback('music', textCallback(nextTaskId('ceiling')));
          const receipt = { receivedAt: new Date().toISOString(), bodyHash: `h${sequence}` };
          const begun = performance.now();
          try {
            await tasks.deliverCallback({ callback, receipt });
            latencies.push(performance.now() - begun);
          } catch {
            errors++;
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const figures = spread(latencies);
    return { side: 'ceiling', count, seconds, p50: figures.p50, p99: figures.p99, errors, cpu: meter.end() };
  };

  const webhook = async (count: number): Promise<Round> => {
    const meter = new CpuMeter(pids).begin();
    const result = await autocannon({
      url: service.callbackUrl('music'),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections: options.concurrency,
      amount: count,
      timeout: 30,
      requests: [
        {
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify(textCallback(nextTaskId('webhook'))),
          }),
        },
      ],
    });
    return {
      side: 'webhook',
      count: result['2xx'],
      seconds: result.duration,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.timeouts + result.non2xx,
      cpu: meter.end(),
    };
  };

  try {
    // Warm-up: JIT, connections, the worker's first workflow tasks.
    await ceiling(Math.min(100, options.perRound));
    await webhook(Math.min(100, options.perRound));
    const rounds: Round[] = [];
    for (let round = 0; round < options.rounds; round++) {
      // ABBA: each side goes first as often as second, so a drift over the run (the database
      // grows, the worker's cache fills) favours neither.
      const order = round % 2 === 0 ? [ceiling, webhook] : [webhook, ceiling];
      for (const side of order) rounds.push(await side(options.perRound));
    }
    return describeIngest(rounds, options);
  } finally {
    await connection.close();
    await service.close();
  }
}

function describeIngest(rounds: Round[], options: IngestOptions): string {
  const rate = (round: Round) => round.count / round.seconds;
  const total = (side: Round['side']) => {
    const ofSide = rounds.filter((round) => round.side === side);
    const count = ofSide.reduce((sum, round) => sum + round.count, 0);
    const seconds = ofSide.reduce((sum, round) => sum + round.seconds, 0);
    return { rate: count / seconds, errors: ofSide.reduce((sum, round) => sum + round.errors, 0) };
  };
  const ceiling = total('ceiling');
  const webhook = total('webhook');
  const ratio = webhook.rate / ceiling.rate;
  const table = markdownTable(
    ['round', 'side', 'callbacks', 'per second', 'p50', 'p99', 'errors', 'CPU (% of one core)'],
    rounds.map((round, index) => [
      Math.floor(index / 2) + 1,
      round.side === 'ceiling' ? 'signalWithStart loop (ceiling)' : 'HTTP webhook',
      round.count,
      fixed(rate(round), 0),
      ms(round.p50),
      ms(round.p99),
      round.errors,
      describeCpu(round.cpu),
    ]),
  );
  return [
    `## Webhook ingest`,
    '',
    `${options.rounds} rounds of ${options.perRound} callbacks per side (ABBA order), ${options.concurrency} at a time, each for a distinct task (every one starts a workflow).`,
    '',
    table,
    '',
    `- webhook: ${fixed(webhook.rate, 0)} callbacks/s, ceiling: ${fixed(ceiling.rate, 0)} signalWithStart/s`,
    `- ratio to the ceiling: ${against(fixed(ratio, 2), '≥ 0.8', ratio >= 0.8)}`,
    `- errors: ${against(String(webhook.errors), '0', webhook.errors === 0)} (ceiling loop: ${ceiling.errors})`,
  ].join('\n');
}
