/**
 * Live progress: how soon an event stream subscriber hears of a change, and what one HTTP server
 * pays for many subscribers. Songs through the simulator (callbacks delivered) on a dev server of
 * the section's own, the HTTP server and the worker as separate processes.
 *
 * 1. Latency: a per-task stream on each song as it is submitted, and one stream of all tasks;
 *    for every event recorded after the subscriber connected, from the workflow recording it (the
 *    event's `at`, workflow time) to the subscriber reading it.
 * 2. Many subscribers: `subscribers` streams open at once on the one HTTP server, most on the
 *    tasks of a batch of songs (spread evenly), some on the stream of all tasks; then the songs
 *    run to ready. Every subscriber must see every event of its task (or of every task), once, in
 *    order; the server's RSS and CPU are read from /proc while they run.
 */
import { loadavg } from 'node:os';
import { buildSimulator } from '../../src/simulator/app.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { eventsQuery } from '../../src/workflows/events.ts';
import { Client, Connection } from '@temporalio/client';
import { submissionFor } from '../chaos/inputs.ts';
import { submitUntilAccepted } from '../chaos/submitter.ts';
import { CpuMeter, describeCpu, rssBytes } from '../support/cpu.ts';
import { against, fixed, mib, ms, spread } from '../support/figures.ts';
import { startService } from '../support/service.ts';
import { markdownTable } from '../support/table.ts';
import { eachLimited } from '../support/taskWatch.ts';
import type { BenchTemporal } from '../support/temporal.ts';
import { SseClient, type SseMessage } from '../../test/support/sse.ts';

export interface EventsOptions {
  temporal: BenchTemporal;
  bundlePath: string;
  dataDir: (label: string) => string;
  /** Songs followed one stream each for the latency figures. */
  latencySongs: number;
  /** Songs of the many-subscribers run, and the streams open on the one server. */
  fanOutSongs: number;
  subscribers: number;
  /** Of `subscribers`, how many follow the stream of all tasks. */
  globalSubscribers: number;
  timeScale: number;
  progress: (message: string) => void;
}

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));

/** From the workflow recording it to the subscriber reading it, for events recorded after `since`. */
function latencies(messages: readonly SseMessage[], since: number): number[] {
  return messages
    .filter((message) => message.data.at && Date.parse(message.data.at) >= since)
    .map((message) => message.receivedAt - Date.parse(message.data.at));
}

async function metric(apiUrl: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

/** Each task's sequence numbers in the order a stream sent them. */
function seqsByTask(messages: readonly SseMessage[]): Map<string, number[]> {
  const tasks = new Map<string, number[]>();
  for (const message of messages) {
    const list = tasks.get(message.data.taskId) ?? [];
    list.push(message.data.seq);
    tasks.set(message.data.taskId, list);
  }
  return tasks;
}

/** Events a subscriber did not get: expected sequence numbers missing, plus any twice or out of order. */
function lost(got: readonly number[] | undefined, lastSeq: number): { missing: number; wrong: number } {
  const seen = got ?? [];
  const distinct = new Set(seen);
  let missing = 0;
  for (let seq = 1; seq <= lastSeq; seq++) if (!distinct.has(seq)) missing++;
  let wrong = seen.length - distinct.size;
  for (let index = 1; index < seen.length; index++) if (seen[index]! <= seen[index - 1]!) wrong++;
  return { missing, wrong };
}

export async function benchEvents(options: EventsOptions): Promise<string> {
  const simulator = await buildSimulator({ timeScale: options.timeScale, rateLimit: false, seed: 15 });
  const simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
  const service = await startService({
    temporalAddress: options.temporal.address,
    providerUrl: simulatorUrl,
    dataDir: options.dataDir('events'),
    env: {
      POLL_INTERVAL: '30s',
      POLL_MAX_INTERVAL: '5m',
      TASK_DEADLINE: '10m',
      PROVIDER_RATE_LIMIT: '100000/10s',
      EVENTS_MAX_STREAMS: String(options.subscribers + 100),
    },
    worker: { entry: 'bench/support/workerProcess.ts', bundlePath: options.bundlePath },
  });
  const connection = await Connection.connect({ address: options.temporal.address });
  const client = new Client({ connection });
  let n = 0;
  const submit = async () => {
    const index = n++;
    const task = await submitUntilAccepted(
      service.apiUrl,
      { n: index, kind: 'music', input: submissionFor('music', index), idempotencyKey: `events-${index}` },
      120_000,
    );
    return task.taskId;
  };
  /** The task's whole log as the workflow keeps it. */
  const lastSeqOf = async (taskId: string) =>
    (await client.workflow.getHandle(musicTaskWorkflowId(taskId)).query(eventsQuery, 0)).lastSeq;
  const streams: SseClient[] = [];
  try {
    // ---- 1. latency ----
    options.progress(`events: latency, ${options.latencySongs} songs`);
    const everything = await SseClient.open(`${service.apiUrl}/v1/events`);
    streams.push(everything);
    const globalSince = Date.now();
    const perTask: { taskId: string; stream: SseClient; since: number }[] = [];
    for (let index = 0; index < options.latencySongs; index++) {
      const taskId = await submit();
      const stream = await SseClient.open(`${service.apiUrl}/v1/tasks/${taskId}/events`);
      // Timed from here: what came before is sent as the stream opens, not as it happens.
      const since = Date.now();
      streams.push(stream);
      perTask.push({ taskId, stream, since });
      // Songs a little apart, as users submit them.
      await sleep(300);
    }
    await Promise.all(perTask.map(({ stream }) => stream.closedByServer(5 * 60_000)));
    const readySeqs = new Map(
      await Promise.all(perTask.map(async ({ taskId }) => [taskId, await lastSeqOf(taskId)] as const)),
    );
    await everything.waitFor(
      (messages) =>
        perTask.every(
          ({ taskId }) => (seqsByTask(messages).get(taskId)?.length ?? 0) >= readySeqs.get(taskId)!,
        ),
      60_000,
      'every event in the stream of all tasks',
    );
    const taskLatency = spread(perTask.flatMap(({ stream, since }) => latencies(stream.messages, since)));
    const byType = new Map<string, number[]>();
    for (const { stream, since } of perTask) {
      for (const message of stream.messages) {
        if (!message.data.at || Date.parse(message.data.at) < since) continue;
        const list = byType.get(message.data.type) ?? [];
        list.push(message.receivedAt - Date.parse(message.data.at));
        byType.set(message.data.type, list);
      }
    }
    const globalLatency = spread(latencies(everything.messages, globalSince));
    const settle = await metric(service.apiUrl, 'music_events_settle_seconds');
    const late = await metric(service.apiUrl, 'music_events_late');
    const histories = await Promise.all(
      perTask.map(
        async ({ taskId }) =>
          (await client.workflow.getHandle(musicTaskWorkflowId(taskId)).fetchHistory()).events?.length ?? 0,
      ),
    );
    everything.close();

    // ---- 2. many subscribers on one server ----
    options.progress(`events: ${options.subscribers} subscribers over ${options.fanOutSongs} songs`);
    const serverPid = service.server.pid!;
    const idleRss = rssBytes(serverPid) ?? 0;
    const perTaskCount = options.subscribers - options.globalSubscribers;
    // The streams of all tasks first: every event of the songs submitted next is owed to them.
    const globals = await Promise.all(
      Array.from({ length: options.globalSubscribers }, async () => ({
        taskId: undefined as string | undefined,
        stream: await SseClient.open(`${service.apiUrl}/v1/events?kind=music`),
        since: Date.now(),
      })),
    );
    await Promise.all(
      globals.map(({ stream }) => stream.waitFor(() => stream.movedIds.length > 0, 30_000, 'a first id')),
    );
    const taskIds: string[] = [];
    await eachLimited(
      Array.from({ length: options.fanOutSongs }, (_, index) => index),
      8,
      async () => {
        taskIds.push(await submit());
      },
    );
    // Then the per-task streams, from each task's first event, all at once.
    const opening = new CpuMeter({ server: serverPid }).begin();
    const openedAt = Date.now();
    const subscribers = [
      ...globals,
      ...(await Promise.all(
        Array.from({ length: perTaskCount }, async (_, index) => {
          const taskId = taskIds[index % taskIds.length]!;
          const stream = await SseClient.open(`${service.apiUrl}/v1/tasks/${taskId}/events`);
          // Timed from here: what came before is sent as the stream opens.
          return { taskId: taskId, stream, since: Date.now() };
        }),
      )),
    ];
    streams.push(...subscribers.map(({ stream }) => stream));
    const openMs = Date.now() - openedAt;
    const refused = subscribers.filter(({ stream }) => stream.status !== 200).length;
    const openCpu = opening.end();
    const running = new CpuMeter({ server: serverPid }).begin();
    let peakRss = rssBytes(serverPid) ?? 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssBytes(serverPid) ?? 0);
    }, 250);
    const openStreams = await metric(service.apiUrl, 'music_event_streams');
    const feeds = await metric(service.apiUrl, 'music_event_task_feeds');
    const runStarted = Date.now();
    await Promise.all(
      subscribers.filter(({ taskId }) => taskId).map(({ stream }) => stream.closedByServer(10 * 60_000)),
    );
    const fanOutLastSeq = new Map(
      await Promise.all(taskIds.map(async (taskId) => [taskId, await lastSeqOf(taskId)] as const)),
    );
    await Promise.all(
      subscribers
        .filter(({ taskId }) => !taskId)
        .map(({ stream }) =>
          stream
            .waitFor(
              (messages) => {
                const seen = seqsByTask(messages);
                return taskIds.every(
                  (taskId) => (seen.get(taskId)?.length ?? 0) >= fanOutLastSeq.get(taskId)!,
                );
              },
              60_000,
              'every event',
            )
            .catch(() => undefined),
        ),
    );
    const runMs = Date.now() - runStarted;
    clearInterval(sampler);
    const runCpu = running.end();
    let missing = 0;
    let wrong = 0;
    let expected = 0;
    for (const { taskId, stream } of subscribers) {
      const seen = seqsByTask(stream.messages);
      for (const id of taskId ? [taskId] : taskIds) {
        const result = lost(seen.get(id), fanOutLastSeq.get(id)!);
        missing += result.missing;
        wrong += result.wrong;
        expected += fanOutLastSeq.get(id)!;
      }
    }
    const fanOutLatency = spread(
      subscribers
        .filter(({ taskId }) => taskId)
        .flatMap(({ stream, since }) => latencies(stream.messages, since)),
    );
    for (const stream of streams) stream.close();

    const history = spread(histories);
    const tables = [
      markdownTable(
        ['stream', 'subscribers', 'events timed', 'p50', 'p99', 'max'],
        [
          [
            '`GET /v1/tasks/:taskId/events`',
            perTask.length,
            taskLatency.count,
            ms(taskLatency.p50),
            ms(taskLatency.p99),
            ms(taskLatency.max),
          ],
          [
            '`GET /v1/events`',
            1,
            globalLatency.count,
            ms(globalLatency.p50),
            ms(globalLatency.p99),
            ms(globalLatency.max),
          ],
        ],
      ),
      markdownTable(
        [
          'subscribers (per task + all tasks)',
          'songs',
          'refused',
          'opened in',
          'events owed',
          'lost',
          'twice or out of order',
          'server RSS idle → peak',
          'server CPU opening',
          'server CPU while the songs ran',
          'task followers',
          'per-task p50 / p99',
        ],
        [
          [
            `${options.subscribers} (${perTaskCount} + ${options.globalSubscribers})`,
            taskIds.length,
            refused,
            ms(openMs),
            expected,
            missing,
            wrong,
            `${mib(idleRss)} → ${mib(peakRss)}`,
            describeCpu(openCpu),
            `${describeCpu(runCpu)} (${fixed(runMs / 1000, 1)} s)`,
            `${feeds ?? '-'} (${openStreams ?? '-'} streams)`,
            `${ms(fanOutLatency.p50)} / ${ms(fanOutLatency.p99)}`,
          ],
        ],
      ),
    ];
    return [
      '## Live progress (event streams)',
      '',
      `Songs through the simulator (time scale ${options.timeScale}, callbacks delivered), the HTTP server and the worker as separate processes on a dev server of this section's own. Latency: from the workflow recording an event (its \`at\`, workflow time) to a subscriber reading it, for every event recorded after the subscriber's stream was open; ${options.latencySongs} songs submitted 300 ms apart, one per-task stream each and one stream of all tasks. The stream of all tasks hands an event on once it has settled (older than the visibility scans' recent lag): its settle time at the end was ${settle === undefined ? '-' : ms(settle * 1000)}, and ${late ?? '-'} events were found later than it allowed.`,
      '',
      tables[0],
      '',
      'Per-task stream latency by event type (an event is timed from the start of the workflow task that records it, so `assets` and `ready` include the catalog write in that task):',
      '',
      markdownTable(
        ['event', 'count', 'p50', 'p99', 'max'],
        [...byType].map(([type, values]) => {
          const figures = spread(values);
          return [type, figures.count, ms(figures.p50), ms(figures.p99), ms(figures.max)];
        }),
      ),
      '',
      `Then ${options.subscribers} streams open at once on the one HTTP server: ${perTaskCount} on the tasks of ${taskIds.length} songs (about ${Math.round(perTaskCount / taskIds.length)} each) and ${options.globalSubscribers} on the stream of all tasks (opened before the songs were submitted), while the songs run to ready. "Events owed": every event of its task (or of every song) to every subscriber; "lost": owed and never received. CPU is % of one core.`,
      '',
      tables[1],
      '',
      `- run ${new Date().toISOString()}, load average (1, 5, 15 min) at the end ${loadavg()
        .map((value) => value.toFixed(2))
        .join(', ')} (other users of the machine included)`,
      `- per-task stream latency: ${against(`p99 ${ms(taskLatency.p99)}`, '≤ 500 ms', taskLatency.p99 <= 500)}`,
      `- stream of all tasks latency: p99 ${ms(globalLatency.p99)}: each event waits for the settle time, which follows the lag at which the visibility scans find events (a spike of that lag holds every event as long), so that a Last-Event-ID resumes exactly`,
      `- ${options.subscribers} subscribers on one server, events lost: ${against(String(missing + wrong), '0', missing + wrong === 0 && refused === 0)}`,
      `- history events per task with the event log: ${against(`max ${history.max}`, '≤ 60', history.max <= 60)}`,
    ].join('\n');
  } finally {
    for (const stream of streams) stream.close();
    await connection.close();
    await service.close();
    await simulator.close();
  }
}
