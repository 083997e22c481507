import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { scratchDir } from '../support/temporal.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'music-tasks.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Each test runs the CLI several times (a Node.js start each): in the whole suite, beside the other
 * test files, they took 4.5 times as long as alone (the first one 70 s against 16 s).
 */
const CLI_TEST_TIMEOUT_MS = 180_000;

/** The `music-tasks` bin as a user runs it: a child process, stdout not a TTY. */
function cli(args: string[], env: Record<string, string>, onLine?: (line: string) => void): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, API_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine?.(line);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the music-tasks CLI against a running API', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();
  let env: Record<string, string>;
  const run = (...args: string[]) => cli(args, env);

  before(async () => {
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' },
    });
    env = { API_URL: stack.apiUrl };
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  it(
    'submits, shows status, lists and watches a song to ready with plain lines',
    { timeout: CLI_TEST_TIMEOUT_MS },
    async () => {
      const submitted = await run('submit', 'music', '--prompt', 'a calm song about summer', '--json');
      assert.equal(submitted.code, 0, submitted.stderr);
      const answer = JSON.parse(submitted.stdout) as { taskId: string; workflowId: string; kind: string };
      const { taskId } = answer;
      assert.equal(answer.kind, 'music');
      assert.equal(answer.workflowId, `music-task-${taskId}`);

      const status = await run('status', taskId);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`^${taskId}\\s+music\\s+PENDING`));
      assert.match(status.stdout, new RegExp(`workflow\\s+music-task-${taskId}`));
      assert.match(status.stdout, /callbacks\s+0 \(0 duplicate\)/);

      const statusJson = await run('status', taskId, '--json');
      assert.equal(statusJson.code, 0, statusJson.stderr);
      const view = JSON.parse(statusJson.stdout) as { taskId: string; status: string; ready: boolean };
      assert.deepEqual([view.taskId, view.status, view.ready], [taskId, 'PENDING', false]);

      const listed = await run('list', '--kind', 'music', '--json');
      assert.equal(listed.code, 0, listed.stderr);
      const { tasks } = JSON.parse(listed.stdout) as { tasks: { taskId: string; kind: string }[] };
      assert.ok(
        tasks.some((task) => task.taskId === taskId),
        `list shows the task: ${listed.stdout}`,
      );
      const listedHuman = await run('list');
      assert.match(listedHuman.stdout, new RegExp(`^${taskId}\\s+music\\s+PENDING`, 'm'));

      // Drive the task through its phases while `watch` prints one line per change.
      const result = media.songResult(taskId);
      const phases: [string, () => Promise<unknown>][] = [
        ['TEXT_SUCCESS', () => stack.postCallback('music', songCallback('text', taskId))],
        ['FIRST_SUCCESS', () => stack.postCallback('music', songCallback('first', taskId, result))],
        [
          'ready',
          async () => {
            provider.set(taskId, 'music', 'SUCCESS', result);
            return stack.postCallback('music', songCallback('complete', taskId, result));
          },
        ],
      ];
      const seen: string[] = [];
      let next = 0;
      // While it watches, the CLI holds the task's event stream open (it does not poll).
      const streamsOpen: Promise<number>[] = [];
      const advance = () => {
        streamsOpen.push(
          fetch(`${stack.apiUrl}/metrics`)
            .then((response) => response.text())
            .then((text) => Number(/^music_event_streams (\d+)/m.exec(text)?.[1] ?? 0)),
        );
        const phase = phases[next++];
        if (phase) void phase[1]();
      };
      const watching = cli(['watch', taskId, '--interval', '150'], env, (line) => {
        seen.push(line);
        // Each phase is sent once the line of the one before it has been printed.
        const expected = next === 0 ? 'PENDING' : phases[next - 1]![0];
        if (line.includes(expected)) advance();
      });
      const watched = await watching;
      assert.equal(watched.code, 0, `${watched.stderr}\n${watched.stdout}`);
      assert.ok(!watched.stdout.includes('\u001b['), 'no cursor movement when stdout is not a TTY');
      const open = await Promise.all(streamsOpen);
      assert.ok(
        open.length > 2 && open.slice(1, -1).every((count) => count >= 1),
        `watched over the stream: ${open.join(', ')}`,
      );
      for (const label of ['PENDING', 'TEXT_SUCCESS', 'FIRST_SUCCESS', 'ready']) {
        assert.ok(
          seen.some((line) => line.startsWith(taskId) && line.includes(label)),
          `a line with ${label}: ${watched.stdout}`,
        );
      }
      const last = seen.at(-1)!;
      assert.match(last, /\[█{20}\]/, 'a full bar once ready');
      assert.match(last, /callbacks 3/);

      const done = JSON.parse((await run('status', taskId, '--json')).stdout) as {
        ready: boolean;
        assets: { id: string; path: string; name: string; bytes: number }[];
      };
      assert.equal(done.ready, true);
      const human = await run('status', taskId);
      for (const asset of done.assets) {
        assert.ok(human.stdout.includes(asset.path), `status names ${asset.path}`);
        assert.ok(human.stdout.includes(`/v1/assets/${asset.id}`), `status gives ${asset.id}'s URL`);
        assert.ok(!asset.id.startsWith(`${taskId}-${taskId}`), `a short id: ${asset.id}`);
      }

      const table = (await run('list')).stdout.split('\n');
      assert.match(table[0]!, /^TASK\s+KIND\s+STATUS\s+READY\s+AGE\s+TITLE$/);
      const row = table.find((line) => line.startsWith(taskId));
      assert.match(row ?? '', /music\s+SUCCESS\s+ready\s+\d+[smhd]\s+a calm song about summer$/);

      const tracks = await run('tracks');
      assert.equal(tracks.code, 0, tracks.stderr);
      assert.match(tracks.stdout, /^TRACK\s+TASK\s+TITLE/);
      assert.ok(tracks.stdout.includes(taskId), tracks.stdout);
      assert.match(tracks.stdout, /\/v1\/assets\/\S+/);

      const out = join(scratchDir('download'), 'files');
      const downloaded = await run('download', taskId, '--out', out);
      assert.equal(downloaded.code, 0, downloaded.stderr);
      for (const asset of done.assets) {
        assert.equal(statSync(join(out, asset.name)).size, asset.bytes, `${asset.name} downloaded whole`);
      }
    },
  );

  it(
    'cancels a task; watch then ends with exit code 2 (settled, not ready)',
    { timeout: CLI_TEST_TIMEOUT_MS },
    async () => {
      const submitted = await run('submit', 'lyrics', '--prompt', 'rain on glass', '--json');
      assert.equal(submitted.code, 0, submitted.stderr);
      const { taskId } = JSON.parse(submitted.stdout) as { taskId: string };
      const cancelled = await run('cancel', taskId);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.equal(cancelled.stdout.trim(), `cancelling ${taskId}`);
      await stack.waitForTask(taskId, (view) => view.status === 'CANCELLED');
      const watched = await run('watch', taskId, '--json');
      assert.equal(watched.code, 2);
      assert.deepEqual(JSON.parse(watched.stdout.trim()), { taskId, status: 'CANCELLED', ready: false });
      const again = await run('cancel', taskId);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.trim(), `${taskId} was already cancelled: nothing changed`);
    },
  );

  it(
    'track says at once when the provider does not know the id, and reports a known one',
    { timeout: CLI_TEST_TIMEOUT_MS },
    async () => {
      const unknown = await run('track', 'unknown-cli-task', '--kind', 'music');
      assert.equal(unknown.code, 1);
      assert.match(
        unknown.stderr,
        /^error: provider_task_not_found: the provider does not know task unknown-cli-task/m,
      );
      assert.match(unknown.stderr, /hint: check the id and --kind/);
      const known = await provider.submit('music');
      const tracked = await run('track', known, '--kind', 'music');
      assert.equal(tracked.code, 0, tracked.stderr);
      assert.match(
        tracked.stdout,
        new RegExp(`tracking music task ${known} .*: the provider reports PENDING`),
      );
      await stack.api('DELETE', `/v1/tasks/${known}`);
    },
  );

  it('cancelling a finished task says so and changes nothing', { timeout: CLI_TEST_TIMEOUT_MS }, async () => {
    const taskId = await provider.submit('lyrics');
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'lyrics' });
    provider.set(
      taskId,
      'lyrics',
      'GENERATE_LYRICS_FAILED',
      {},
      { code: 'GENERATE_LYRICS_FAILED', message: 'no' },
    );
    await stack.waitForTask(taskId, (view) => view.status === 'GENERATE_LYRICS_FAILED');
    const cancelled = await run('cancel', taskId);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stdout, /already finished \(GENERATE_LYRICS_FAILED\): nothing was changed/);
  });

  it('explains errors and exits non-zero', async () => {
    const unknown = await run('status', 'no-such-task');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^error: task_not_found: no task no-such-task is tracked here$/m);
    assert.match(unknown.stderr, /hint: `music-tasks list` shows the tracked tasks/);

    const badKind = await run('submit', 'symphony');
    assert.equal(badKind.code, 1);
    assert.match(badKind.stderr, /^error: unknown kind "symphony"; kinds: music, extend, /);
    assert.match(badKind.stderr, /hint: `music-tasks --help` lists the commands and options/);
    const song = await run('submit', 'song', '--prompt', 'x');
    assert.match(song.stderr, /^error: unknown kind "song" \(did you mean music\?\)/);
    const noKind = await run('submit');
    assert.match(noKind.stderr, /^error: submit needs a kind: one of music, /);
    const typo = await run('submit', 'music', '--promt', 'a calm song');
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /^error: unknown option --promt \(did you mean --prompt\?\)$/m);
    const command = await run('stauts', 'x');
    assert.match(command.stderr, /^error: unknown command "stauts" \(did you mean status\?\)$/m);
    const status = await run('list', '--status', 'DONE');
    assert.equal(status.code, 1);
    assert.match(status.stderr, /^error: unknown status "DONE"; statuses: PENDING, TEXT_SUCCESS, /);
    const lower = await run('list', '--status', 'success');
    assert.equal(lower.code, 0, lower.stderr);
    const limit = await run('list', '--limit', 'abc');
    assert.equal(limit.code, 1);
    assert.match(limit.stderr, /^error: --limit must be a whole number from 1 to 500 \(got "abc"\)$/m);
    assert.doesNotMatch(limit.stderr, /querystring|\/limit/, 'no schema path');
    const inCheckout = await cli(['status', 'no-such-task'], { ...env, npm_lifecycle_event: 'cli' });
    assert.match(inCheckout.stderr, /hint: `npm run cli -- list` shows the tracked tasks/);

    const rejected = await run('submit', 'music', '--input', '{"customMode":true}');
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /^error: invalid_input: /);

    const down = await cli(['list'], { API_URL: 'http://127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:1/);
    assert.match(down.stderr, /is `npm start` running, or is API_URL right\?/);
  });
});
