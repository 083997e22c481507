/** The simulator never discloses the callback secret, and listens on loopback unless told otherwise. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildSimulator } from '../../src/simulator/app.ts';
import { SAMPLE_INPUTS } from '../support/inputs.ts';
import { freePort } from '../support/ports.ts';

const SECRET = 'callback-secret-never-shown';

/** Whether something listens on `port` on all IPv4 interfaces (read from the kernel, no traffic). */
function listensOnAllInterfaces(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => line.includes(`00000000:${hexPort} 00000000:0000 0A`));
}

describe('security: the simulator', () => {
  it('redacts the callback token and signature in every inspection route and echo', async () => {
    const simulator = await buildSimulator({ timeScale: 0.01, seed: 3, rateLimit: false });
    const url = await simulator.listen({ port: 0, host: '127.0.0.1' });
    try {
      const headers = { authorization: 'Bearer k', 'content-type': 'application/json' };
      const submitted: string[] = [];
      for (const query of [`token=${SECRET}`, `nonce=s.k&sig=${SECRET}`, `TOKEN=${SECRET}`]) {
        const answer = await fetch(`${url}/suno/generate`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            ...SAMPLE_INPUTS.music,
            callBackUrl: `http://127.0.0.1:9/webhooks/music/music?${query}`,
          }),
        });
        submitted.push(((await answer.json()) as { data: { taskId: string } }).data.taskId);
      }
      const seen: string[] = [];
      for (const taskId of submitted) {
        seen.push(await (await fetch(`${url}/__sim/tasks/${taskId}`)).text());
        seen.push(await (await fetch(`${url}/suno/query/task?taskId=${taskId}`, { headers })).text());
      }
      seen.push(await (await fetch(`${url}/__sim/stats`)).text());
      for (const text of seen) assert.ok(!text.includes(SECRET), text.slice(0, 300));
      assert.match(seen[0]!, /token=redacted/, 'the URL is still shown, its proof replaced');
    } finally {
      await simulator.close();
    }
  });

  it('npm run simulator binds to loopback even when HOST is 0.0.0.0, and wider only with SIMULATOR_HOST', async () => {
    const run = async (env: Record<string, string>) => {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'simulator', 'main.ts')],
        {
          env: { ...process.env, SIMULATOR_PORT: String(port), LOG_LEVEL: 'silent', ...env },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve());
          child.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
        });
        return listensOnAllInterfaces(port);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    };
    assert.equal(await run({ HOST: '0.0.0.0' }), false, 'HOST does not widen the simulator');
    assert.equal(await run({ SIMULATOR_HOST: '0.0.0.0' }), true, 'SIMULATOR_HOST does');
  });
});
