import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'music-tasks.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

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
    { timeout: 60_000 },
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
      const advance = () => {
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
        assets: { path: string }[];
      };
      assert.equal(done.ready, true);
      const human = await run('status', taskId);
      for (const asset of done.assets)
        assert.ok(human.stdout.includes(asset.path), `status names ${asset.path}`);
    },
  );

  it(
    'cancels a task; watch then ends with exit code 2 (settled, not ready)',
    { timeout: 60_000 },
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
    },
  );

  it('explains errors and exits non-zero', async () => {
    const unknown = await run('status', 'no-such-task');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^error: task_not_found: no task no-such-task is tracked here$/m);
    assert.match(unknown.stderr, /hint: `music-tasks list` shows the tracked tasks/);

    const badKind = await run('submit', 'symphony');
    assert.equal(badKind.code, 1);
    assert.match(badKind.stderr, /a kind is required: one of music, extend, /);
    assert.match(badKind.stderr, /usage: music-tasks <command>/);

    const rejected = await run('submit', 'music', '--input', '{"customMode":true}');
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /^error: invalid_input: /);

    const down = await cli(['list'], { API_URL: 'http://127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:1/);
    assert.match(down.stderr, /is `npm start` running, or is API_URL right\?/);
  });
});
