import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scratchDir } from './support/temporal.ts';
import { freePort } from './support/ports.ts';

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
});
