import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { startDevServer, type DevServer } from '../../src/temporal/devServer.ts';
import { comparePositions, parsePosition } from '../../src/events/eventIds.ts';
import { freePort } from '../support/ports.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { SseClient, type SseMessage } from '../support/sse.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testClient } from '../support/temporal.ts';

/** A second HTTP server on the same Temporal and catalog: a replica, or the same server after a restart. */
async function otherServer(stack: Stack) {
  const { client, connection } = await testClient(stack.config);
  const app = await buildApp(stack.config, {
    client,
    connection,
    webhookSecrets: [stack.secret],
    catalog: stack.catalog,
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    async close() {
      await app.close();
      await connection.close();
    },
  };
}

/** Each task's sequence numbers, in the order a stream of all tasks sent them. */
function byTask(messages: SseMessage[]): Map<string, number[]> {
  const tasks = new Map<string, number[]>();
  for (const message of messages) {
    const list = tasks.get(message.data.taskId) ?? [];
    list.push(message.data.seq);
    tasks.set(message.data.taskId, list);
  }
  return tasks;
}

/** The sequence numbers of a task's messages: each once, in order. */
function seqs(messages: SseMessage[]): number[] {
  return messages.map((message) => message.data.seq as number);
}

describe('event streams (real Temporal, fake provider)', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m', EVENTS_HEARTBEAT: '300ms' },
    });
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  async function tracked() {
    const taskId = await provider.submit('music');
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    assert.equal(put.status, 201);
    return { taskId, result: media.songResult(taskId) };
  }

  const stream = (taskId: string, lastEventId?: string, base = stack.apiUrl) =>
    SseClient.open(`${base}/v1/tasks/${taskId}/events`, lastEventId === undefined ? {} : { lastEventId });

  it('streams a song from tracking to ready, then ends; a reconnect after the end is 204', async () => {
    const { taskId, result } = await tracked();
    const events = await stream(taskId);
    assert.equal(events.status, 200);
    assert.match(events.response.headers.get('content-type') ?? '', /^text\/event-stream/);
    await events.next('tracking');
    assert.equal((await stack.postCallback('music', songCallback('text', taskId))).status, 200);
    await events.next('status');
    assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
    assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
    await events.waitFor((messages) => messages.filter((m) => m.data.duplicate === true).length === 1);
    provider.set(taskId, 'music', 'SUCCESS', result);
    assert.equal(
      (await stack.postCallback('music', songCallback('complete', taskId, result, true))).status,
      200,
    );
    await events.next('ready');
    await events.closedByServer(10_000);
    const types = events.messages.map((message) => message.data.type);
    assert.deepEqual(types, [
      'tracking',
      'callback',
      'status',
      'callback',
      'status',
      'callback',
      'callback',
      'provider_call',
      'poll',
      'status',
      'assets',
      'ready',
    ]);
    assert.deepEqual(
      seqs(events.messages),
      types.map((_, index) => index + 1),
    );
    assert.deepEqual(
      events.messages.map((message) => message.id),
      types.map((_, index) => String(index + 1)),
    );
    const statuses = events.messages.filter((m) => m.data.type === 'status').map((m) => m.data.status);
    assert.deepEqual(statuses, ['TEXT_SUCCESS', 'FIRST_SUCCESS', 'SUCCESS']);
    const [dup] = events.messages.filter((m) => m.data.duplicate);
    assert.equal(dup!.data.phase, 'first');
    assert.equal(dup!.data.duplicates, 1);
    const ready = events.messages.at(-1)!.data;
    assert.equal(ready.taskId, taskId);
    assert.equal(ready.kind, 'music');
    assert.equal(ready.ready, true);
    assert.equal(ready.callbacks, 4);
    const assets = events.messages.find((m) => m.data.type === 'assets')!.data;
    assert.equal(assets.assetCount, 4);
    for (const asset of assets.assets) assert.match(asset.url, /^\/v1\/assets\//);

    const again = await stream(taskId, events.lastEventId);
    assert.equal(again.status, 204);
    const missed = await stream(taskId, '9');
    assert.equal(missed.status, 200);
    await missed.closedByServer(10_000);
    assert.deepEqual(seqs(missed.messages), [10, 11, 12]);
  });

  it('resumes from Last-Event-ID on another server (a restart, another replica): each missed event once, in order', async () => {
    const { taskId, result } = await tracked();
    const first = await stream(taskId);
    assert.equal((await stack.postCallback('music', songCallback('text', taskId))).status, 200);
    await first.waitFor((messages) => messages.length >= 3);
    first.close();
    const seen = first.messages.slice(0, 3);
    // While nobody listens: more happens.
    assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
    assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
    await stack.waitForTask(taskId, (view) => view.receiptCounts.total === 3);

    // A second HTTP server on the same Temporal: nothing of the first one's memory.
    const other = await otherServer(stack);
    try {
      const second = await stream(taskId, seen.at(-1)!.id, other.url);
      assert.equal(second.status, 200);
      await second.waitFor((messages) => messages.length >= 3);
      provider.set(taskId, 'music', 'SUCCESS', result);
      await stack.postCallback('music', songCallback('complete', taskId, result, true));
      await second.next('ready');
      await second.closedByServer(10_000);
      const all = [...seqs(seen), ...seqs(second.messages)];
      assert.deepEqual(
        all,
        all.map((_, index) => index + 1),
        'every event once, in order',
      );
    } finally {
      await other.close();
    }
  });

  it('sends heartbeats while the task is quiet', async () => {
    const { taskId } = await tracked();
    const events = await stream(taskId);
    await events.next('tracking');
    const before = events.comments.length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.ok(events.comments.length - before >= 2, `heartbeats: ${events.comments.length - before}`);
    assert.ok(events.comments.every((comment) => comment === 'heartbeat'));
    events.close();
  });

  it('ends with the cancelled event when the task is cancelled', async () => {
    const { taskId } = await tracked();
    const events = await stream(taskId);
    await events.next('tracking');
    assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
    await events.next('cancelled');
    await events.closedByServer(10_000);
    assert.equal(events.messages.at(-1)!.data.status, 'CANCELLED');
  });

  it('answers 404 for an unknown task and 400 for a Last-Event-ID that is not one of the task', async () => {
    const unknown = await stream('no-such-task');
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error, 'task_not_found');
    const { taskId } = await tracked();
    for (const bad of ['abc', '-1', '1.5', '99']) {
      const answer = await stream(taskId, bad);
      assert.equal(answer.status, 400, bad);
      assert.equal((await answer.json()).error, 'invalid_last_event_id');
    }
    const badId = await SseClient.open(`${stack.apiUrl}/v1/tasks/bad%20id/events`);
    assert.equal(badId.status, 400);
  });

  const everything = (query = '', lastEventId?: string, base = stack.apiUrl) =>
    SseClient.open(`${base}/v1/events${query}`, lastEventId === undefined ? {} : { lastEventId });

  /** Sends text and first callbacks to every task at once: many tasks change within the same second. */
  async function progress(tasks: { taskId: string; result: ReturnType<MediaServer['songResult']> }[]) {
    await Promise.all(tasks.map(({ taskId }) => stack.postCallback('music', songCallback('text', taskId))));
    await Promise.all(
      tasks.map(({ taskId, result }) => stack.postCallback('music', songCallback('first', taskId, result))),
    );
  }

  it('the stream of all tasks sends every event of many tasks changing at once, each once, in order', async () => {
    const all = await everything();
    const lyricsOnly = await everything('?kind=lyrics');
    const firstOnly = await everything('?status=FIRST_SUCCESS');
    for (const client of [all, lyricsOnly, firstOnly]) assert.equal(client.status, 200);
    // A client that came without an id is given one at once (a resume point).
    await all.waitFor(() => all.movedIds.length > 0, 5_000, 'a first id');
    assert.ok(parsePosition(all.movedIds[0]!), all.movedIds[0]);

    const songs = await Promise.all(Array.from({ length: 12 }, () => tracked()));
    const lyricsId = await provider.submit('lyrics');
    assert.equal((await stack.api('PUT', `/v1/tasks/${lyricsId}`, { kind: 'lyrics' })).status, 201);
    await progress(songs);
    // tracking, text callback, status, first callback, status: five per song.
    const expected = new Map(songs.map(({ taskId }) => [taskId, [1, 2, 3, 4, 5]]));
    await all.waitFor(
      (messages) => songs.every(({ taskId }) => (byTask(messages).get(taskId)?.length ?? 0) >= 5),
      30_000,
      'five events of each song',
    );
    await lyricsOnly.waitFor((messages) => messages.length >= 1, 10_000, 'the lyrics task');
    // Settle: nothing more may come for these tasks.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const seen = byTask(all.messages);
    for (const [taskId, seqs] of expected) assert.deepEqual(seen.get(taskId), seqs, taskId);
    // The lyrics task (tracked by id) asks the provider at once: its polls are events too.
    const lyricsSeqs = seen.get(lyricsId)!;
    assert.deepEqual(
      lyricsSeqs,
      lyricsSeqs.map((_, index) => index + 1),
    );
    const positions = all.messages.map((message) => parsePosition(message.id!)!);
    // Ids never go back (an event visibility showed late keeps the id where the client is).
    for (let index = 1; index < positions.length; index++)
      assert.ok(comparePositions(positions[index - 1]!, positions[index]!) <= 0, 'ids never go back');
    assert.ok(lyricsOnly.messages.every((message) => message.data.kind === 'lyrics'));
    assert.ok(lyricsOnly.messages.every((message) => message.data.taskId === lyricsId));
    assert.ok(firstOnly.messages.length >= 12);
    assert.ok(firstOnly.messages.every((message) => message.data.status === 'FIRST_SUCCESS'));
    for (const client of [all, lyricsOnly, firstOnly]) client.close();
  });

  it('the stream of all tasks resumes from Last-Event-ID on another server: nothing missed, nothing twice', async () => {
    const first = await everything('?kind=music');
    await first.waitFor(() => first.movedIds.length > 0, 5_000, 'a first id');
    const songs = await Promise.all(Array.from({ length: 6 }, () => tracked()));
    await Promise.all(songs.map(({ taskId }) => stack.postCallback('music', songCallback('text', taskId))));
    await first.waitFor((messages) => messages.length >= 6, 30_000, 'some events');
    first.close();
    const resumeFrom = first.lastEventId!;
    const posted = await Promise.all(
      songs.map(({ taskId, result }) => stack.postCallback('music', songCallback('first', taskId, result))),
    );
    assert.deepEqual(
      posted.map((answer) => answer.status),
      songs.map(() => 200),
    );
    const other = await otherServer(stack);
    try {
      const second = await everything('?kind=music', resumeFrom, other.url);
      assert.equal(second.status, 200);
      const union = () => byTask([...first.messages, ...second.messages]);
      await second
        .waitFor(
          () => songs.every(({ taskId }) => (union().get(taskId)?.length ?? 0) >= 5),
          30_000,
          'five events of each song',
        )
        .catch(async (error: unknown) => {
          const views = await Promise.all(songs.map(({ taskId }) => stack.api('GET', `/v1/tasks/${taskId}`)));
          console.log(
            'DEBUG',
            resumeFrom,
            views.map((view) => `${view.body.taskId} ${view.body.status} ${view.body.receiptCounts.total}`),
            (await (await fetch(`${other.url}/metrics`)).text())
              .split('\n')
              .filter((line) => line.startsWith('music_event'))
              .join('\n'),
          );
          throw error;
        });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (const { taskId } of songs) assert.deepEqual(union().get(taskId), [1, 2, 3, 4, 5], taskId);
      assert.ok(
        second.messages.every(
          (message) => comparePositions(parsePosition(message.id!)!, parsePosition(resumeFrom)!) > 0,
        ),
      );
      second.close();
      // A server that closes ends its open streams first (their clients reconnect elsewhere).
      const lingering = await everything('', undefined, other.url);
      await lingering.waitFor(() => lingering.movedIds.length > 0, 5_000, 'a first id');
      const closing = other.close();
      await lingering.closedByServer(5_000);
      await closing;
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  it('refuses bad filters and bad ids of the stream of all tasks with 400', async () => {
    for (const query of ['?kind=nope', '?status=lower', '?status=' + 'A'.repeat(65)]) {
      const answer = await everything(query);
      assert.equal(answer.status, 400, query);
    }
    for (const bad of ['yesterday', '123', '1-x-0', `${Date.now() + 3_600_000}--0`, '1--1']) {
      const answer = await everything('', bad);
      assert.equal(answer.status, 400, bad);
      assert.equal((await answer.json()).error, 'invalid_last_event_id', bad);
    }
    const old = await everything('', `${Date.now() - 2 * 24 * 3_600_000}--0`);
    assert.equal(old.status, 410);
  });
});

describe('event streams across continue-as-new', () => {
  let server: DevServer;
  let stack: Stack;
  const provider = new FakeProvider();

  before(async () => {
    // A server that suggests continue-as-new after a few events: the task changes runs often.
    server = await startDevServer({
      port: await freePort(),
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 12 },
    });
    stack = await startStack({
      provider,
      env: { TEMPORAL_ADDRESS: server.address, POLL_INTERVAL: '300ms', POLL_MAX_INTERVAL: '300ms' },
    });
  });
  after(async () => {
    await stack?.close();
    await server?.stop();
  });

  it('keeps the sequence across runs, and a resume reads the missed events from the new run', async () => {
    const taskId = await provider.submit('lyrics');
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'lyrics' })).status, 201);
    const events = await SseClient.open(`${stack.apiUrl}/v1/tasks/${taskId}/events`);
    const handle = stack.client.workflow.getHandle(`music-task-${taskId}`);
    const firstRun = (await handle.describe()).runId;
    // Each poll (the provider says PENDING) is two events, and grows the history towards the suggestion.
    await events.waitFor((messages) => messages.length >= 4, 30_000, 'four events');
    events.close();
    const seen = events.messages.slice(0, 4);
    await stack.waitForTask(taskId, (view) => view.pollCount >= 6, 60_000);
    const laterRun = (await handle.describe()).runId;
    assert.notEqual(laterRun, firstRun, 'the task continued as new');
    const resumed = await SseClient.open(`${stack.apiUrl}/v1/tasks/${taskId}/events`, {
      lastEventId: seen.at(-1)!.id!,
    });
    await resumed.waitFor(
      (messages) => messages.filter((message) => message.data.type === 'poll').length >= 4,
      30_000,
      'the later polls',
    );
    // Live across the next change of run too, to the end.
    provider.set(taskId, 'lyrics', 'SUCCESS', { lyrics: [{ title: 'Rain', text: 'la la la' }] });
    await resumed.next('ready', 30_000);
    await resumed.closedByServer(10_000);
    const all = [...seqs(seen), ...seqs(resumed.messages)];
    assert.deepEqual(
      all,
      all.map((_, index) => index + 1),
      'every event once, in order, across runs',
    );
    const runs = new Set<string>();
    for await (const execution of stack.client.workflow.list({
      query: `WorkflowId = 'music-task-${taskId}'`,
    }))
      runs.add(execution.runId);
    assert.ok(runs.size >= 3, `runs: ${runs.size}`);
  });
});

describe('event streams with API_TOKEN', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  before(async () => {
    stack = await startStack({
      provider,
      env: {
        API_TOKEN: 'events-test-token',
        POLL_INTERVAL: '1m',
        POLL_MAX_INTERVAL: '1m',
        EVENTS_MAX_STREAMS: '2',
      },
    });
  });
  after(async () => stack?.close());

  it('needs the token: as a header, as ?token= or as the console cookie; never without', async () => {
    const taskId = await provider.submit('lyrics');
    const put = await fetch(`${stack.apiUrl}/v1/tasks/${taskId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: 'Bearer events-test-token' },
      body: JSON.stringify({ kind: 'lyrics' }),
    });
    assert.equal(put.status, 201);
    const url = `${stack.apiUrl}/v1/tasks/${taskId}/events`;
    assert.equal((await SseClient.open(url)).status, 401);
    assert.equal((await SseClient.open(`${url}?token=wrong`)).status, 401);
    assert.equal((await SseClient.open(`${stack.apiUrl}/v1/events`)).status, 401);
    for (const headers of <Record<string, string>[]>[
      { authorization: 'Bearer events-test-token' },
      { cookie: 'other=1; music_tasks_token=events-test-token' },
    ]) {
      const events = await SseClient.open(url, { headers });
      assert.equal(events.status, 200);
      await events.next('tracking');
      events.close();
    }
    const byQuery = await SseClient.open(`${url}?token=events-test-token`);
    assert.equal(byQuery.status, 200);
    await byQuery.next('tracking');
    byQuery.close();
    // A cookie proves a read only: a write needs the header.
    const write = await fetch(`${stack.apiUrl}/v1/tasks/${taskId}`, {
      method: 'DELETE',
      headers: { cookie: 'music_tasks_token=events-test-token' },
    });
    assert.equal(write.status, 401);
  });

  it('holds EVENTS_MAX_STREAMS streams at most: one more is 503 with Retry-After', async () => {
    const headers = { authorization: 'Bearer events-test-token' };
    const open = [
      await SseClient.open(`${stack.apiUrl}/v1/events`, { headers }),
      await SseClient.open(`${stack.apiUrl}/v1/events?kind=music`, { headers }),
    ];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await SseClient.open(`${stack.apiUrl}/v1/events`, { headers });
    assert.equal(refused.status, 503);
    assert.equal(refused.response.headers.get('retry-after'), '5');
    assert.equal((await refused.json()).error, 'too_many_streams');
    for (const client of open) client.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await SseClient.open(`${stack.apiUrl}/v1/events`, { headers });
    assert.equal(again.status, 200);
    again.close();
  });
});
