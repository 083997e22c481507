import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TASK_KINDS } from '../../src/provider/kinds.ts';
import { buildSimulator } from '../../src/simulator/app.ts';
import { startStack, type Stack } from '../support/stack.ts';

const demo = join(import.meta.dirname, '..', '..', 'scripts', 'demo.ts');

function runDemo(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', demo], {
    env: { ...process.env, API_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('npm run demo against a running stack', () => {
  let simulator: FastifyInstance;
  let simulatorUrl: string;
  let stack: Stack;

  before(async () => {
    simulator = await buildSimulator({ timeScale: 0.01, seed: 5, rateLimit: false });
    simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
    stack = await startStack({ providerUrl: simulatorUrl });
  });
  after(async () => {
    await stack.close();
    await simulator.close();
  });

  it(
    'runs every kind through the fault mix to ready, then prints UI links and where the files are',
    { timeout: 180_000 },
    async () => {
      const faultsBefore = await (await fetch(`${simulatorUrl}/__sim/faults`)).json();
      const { code, stdout, stderr } = await runDemo({
        API_URL: stack.apiUrl,
        MUSIC_API_BASE_URL: simulatorUrl,
        MUSIC_API_KEY: 'demo-test-key',
        TEMPORAL_UI_PORT: '8233',
      });
      assert.equal(code, 0, `${stderr}\n${stdout}`);
      assert.match(stdout, /fault mix: \{"dropCallback":0\.2/);
      assert.match(
        stdout,
        new RegExp(`${TASK_KINDS.length} tasks settled in \\d+ s: ${TASK_KINDS.length} ready`),
      );
      assert.match(stdout, /Absorbed: \d+ dropped callbacks \(found by \d+ polls\), \d+ duplicates/);
      // Something shows from the first second: a line per submission as it answers.
      assert.match(stdout, /^submitting 9 tasks, one of every kind…$/m);
      for (const kind of TASK_KINDS) {
        assert.match(stdout, new RegExp(`^ {2}${kind}\\s+\\S+ {2}submitted after [\\d.]+ s$`, 'm'), kind);
      }
      for (const kind of TASK_KINDS) {
        const line = new RegExp(
          `^${kind}\\s+(\\S+)\\s+ready\\n  Temporal UI  http://127\\.0\\.0\\.1:8233/namespaces/default/workflows/music-task-\\1$`,
          'm',
        );
        assert.match(stdout, line, kind);
      }
      const folders = [...stdout.matchAll(/^ {2}files {8}(\S+)\/ \((\d+), \d+ bytes\)$/gm)];
      assert.equal(folders.length, TASK_KINDS.length - 1, 'every kind but lyrics leaves files');
      for (const [, folder, count] of folders) {
        assert.ok(existsSync(folder!), `${folder} exists`);
        assert.ok(readdirSync(folder!).length >= Number(count), `${folder} holds the files`);
      }
      assert.match(stdout, /^ {2}lyrics {7}".+" \(kept in the task's state\)$/m);
      assert.deepEqual(
        await (await fetch(`${simulatorUrl}/__sim/faults`)).json(),
        faultsBefore,
        'faults restored',
      );
    },
  );

  it('refuses a provider that is not the simulator, saying why', async () => {
    const { code, stderr } = await runDemo({
      API_URL: stack.apiUrl,
      MUSIC_API_BASE_URL: stack.apiUrl,
      MUSIC_API_KEY: 'demo-test-key',
    });
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^demo: no provider simulator at http:\/\/127\.0\.0\.1:\d+ \(\/__sim\/faults answered 404\)/,
    );
    assert.match(stderr, /run it against `npm start` without MUSIC_API_BASE_URL/);
  });
});
