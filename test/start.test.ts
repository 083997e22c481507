import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scratchDir } from './support/temporal.ts';
import { freePort } from './support/ports.ts';
import { eventually } from './support/eventually.ts';

const root = join(import.meta.dirname, '..');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts `npm start`'s supervisor and resolves once it says everything is up. */
function startSupervisor(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'start.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not up within 90 s:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('music-tasks is up')) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`supervisor exited with ${code} before it was up:\n${output}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

async function api(base: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Submits a song and returns its provider task id (waiting out a queued submission). */
async function submitSong(base: string): Promise<string> {
  const submitted = await api(base, 'POST', '/v1/tasks', {
    kind: 'music',
    input: {
      customMode: false,
      instrumental: false,
      model: 'V4_5',
      prompt: 'a song that survives a restart',
    },
  });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  let taskId: string | undefined = submitted.body.taskId;
  while (!taskId) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    taskId = (await api(base, 'GET', `/v1/submissions/${submitted.body.idempotencyKey}`)).body.taskId;
  }
  return taskId;
}

async function waitForView(base: string, taskId: string, until: (view: any) => boolean, timeoutMs: number) {
  const read = await eventually(
    () => api(base, 'GET', `/v1/tasks/${taskId}`),
    ({ status, body }) => status === 200 && until(body),
    { timeoutMs, intervalMs: 250, what: `task ${taskId} reaching the expected state` },
  );
  return read.body;
}

describe('npm start (the supervisor)', () => {
  it(
    'brings everything up, stops every child on SIGINT, and keeps workflows across restarts',
    { timeout: 240_000 },
    async () => {
      const ports = {
        PORT: await freePort(),
        TEMPORAL_DEV_PORT: await freePort(),
        TEMPORAL_UI_PORT: await freePort(),
        SIMULATOR_PORT: await freePort(),
      };
      const env = {
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
        DATA_DIR: scratchDir('start'),
        LOG_LEVEL: 'warn',
        TEMPORAL_ADDRESS: '',
        MUSIC_API_BASE_URL: '',
        MUSIC_API_KEY: '',
        WEBHOOK_SECRET: '',
        API_TOKEN: '',
      };
      const api = `http://127.0.0.1:${ports.PORT}`;

      const first = await startSupervisor(env);
      assert.match(first.output(), new RegExp(`API\\s+${api}`));
      assert.match(first.output(), new RegExp(`Temporal UI\\s+http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`));
      assert.equal((await fetch(`${api}/readyz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`)).status, 200);
      const tracked = await fetch(`${api}/v1/tasks/kept-across-restarts`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'lyrics' }),
      });
      assert.equal(tracked.status, 201);
      assert.equal(await stop(first.child), 0);
      for (const [name, port] of Object.entries(ports))
        assert.equal(await portOpen(port), false, `${name} ${port} is closed`);

      const second = await startSupervisor(env);
      try {
        const view = await fetch(`${api}/v1/tasks/kept-across-restarts`);
        assert.equal(view.status, 200, 'the first run’s workflow is still there');
      } finally {
        assert.equal(await stop(second.child), 0);
      }
      for (const [name, port] of Object.entries(ports))
        assert.equal(await portOpen(port), false, `${name} ${port} is closed`);
    },
  );

  it(
    'a song stopped half-way by Ctrl-C becomes ready after the restart; the terminal is readable, a pipe gets JSON',
    { timeout: 300_000 },
    async () => {
      const ports = {
        PORT: await freePort(),
        TEMPORAL_DEV_PORT: await freePort(),
        TEMPORAL_UI_PORT: await freePort(),
        SIMULATOR_PORT: await freePort(),
      };
      const env = {
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
        DATA_DIR: scratchDir('restart'),
        LOG_LEVEL: 'info',
        // A song's phases at 7 s (first) and 30 s (complete): the restart falls in the middle.
        SIMULATOR_TIME_SCALE: '0.2',
        TEMPORAL_ADDRESS: '',
        MUSIC_API_BASE_URL: '',
        MUSIC_API_KEY: '',
        WEBHOOK_SECRET: '',
        API_TOKEN: '',
      };
      const base = `http://127.0.0.1:${ports.PORT}`;

      const first = await startSupervisor({ ...env, LOG_FORMAT: 'pretty' });
      let taskId: string;
      try {
        taskId = await submitSong(base);
        await waitForView(base, taskId, (view) => view.status === 'FIRST_SUCCESS', 60_000);
      } finally {
        assert.equal(await stop(first.child), 0);
      }
      const pretty = first.output();
      const [startup = '', afterBanner = ''] = pretty.split('music-tasks is up');
      assert.doesNotMatch(pretty, /^\s*\{/m, 'no JSON lines on a terminal');
      assert.doesNotMatch(pretty, /No workflows registered|webpack|request completed|incoming request/);
      assert.doesNotMatch(startup, /ERROR|WARN/, `a clean start warns of nothing:\n${startup}`);
      assert.match(afterBanner, /Try it\s+npm run cli -- submit music/);
      assert.match(
        afterBanner,
        /Temporal UI\s+http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\?query=WorkflowType%3D%22musicTask%22/,
        'a link to the tasks only',
      );
      assert.match(afterBanner, /Provider\s+\S+ \(simulator; a song takes ~30 s\)/);
      assert.match(afterBanner, new RegExp(`callback\\s+taskId=${taskId}`), 'one readable line per callback');
      assert.match(afterBanner, /^\[\d\d:\d\d:\d\d\] INFO \(server\): /m, 'time, level, part, message');

      const second = await startSupervisor({ ...env, LOG_FORMAT: 'json' });
      try {
        const view = await waitForView(base, taskId, (task) => task.ready || !!task.error, 120_000);
        assert.equal(view.error, undefined, JSON.stringify(view.error));
        assert.equal(view.ready, true);
        assert.equal(view.status, 'SUCCESS');
        assert.ok(view.assets.length > 0, 'its files were stored');
      } finally {
        assert.equal(await stop(second.child), 0);
      }
      const beforeBanner = second.output().split('music-tasks is up')[0]!.trim().split('\n');
      for (const line of beforeBanner.filter(Boolean)) {
        const entry = JSON.parse(line) as { part?: string };
        assert.ok(entry.part, `each JSON line names its part: ${line}`);
      }
    },
  );
});
