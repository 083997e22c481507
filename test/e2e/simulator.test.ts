import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TASK_KINDS } from '../../src/provider/kinds.ts';
import { buildSimulator } from '../../src/simulator/app.ts';
import { SAMPLE_INPUTS } from '../support/inputs.ts';
import { startStack, type Stack } from '../support/stack.ts';

/** Files each kind leaves at least (a stem split has one per instrument found). */
const EXPECTED_FILES: Record<string, number> = {
  music: 4,
  extend: 4,
  'upload-cover': 4,
  lyrics: 0,
  'vocal-removal': 3,
  'split-stem': 4,
  wav: 1,
  mp4: 1,
  'cover-art': 2,
};

describe('end to end: API → simulator → callbacks → Temporal → stored files', () => {
  let simulator: FastifyInstance;
  let simulatorUrl: string;
  let stack: Stack;

  before(async () => {
    simulator = await buildSimulator({ timeScale: 0.01, seed: 42 });
    simulatorUrl = await simulator.listen({ port: 0, host: '127.0.0.1' });
    // Polls far off: with callbacks delivered, every query is a confirmation.
    stack = await startStack({
      providerUrl: simulatorUrl,
      env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '2m' },
    });
  });
  after(async () => {
    await stack.close();
    await simulator.close();
  });

  it('finishes one task of every kind for two provider calls each', { timeout: 90_000 }, async () => {
    const submitted = await Promise.all(
      TASK_KINDS.map(async (kind) => {
        const answer = await stack.submit({ kind, input: SAMPLE_INPUTS[kind] });
        assert.equal(answer.status, 202, `${kind}: ${JSON.stringify(answer.body)}`);
        return { kind, taskId: answer.body.taskId as string };
      }),
    );
    const stats = async () => (await (await fetch(`${simulatorUrl}/__sim/stats`)).json()) as any;
    for (const { kind, taskId } of submitted) {
      const view = await stack.waitForTask(taskId, (task) => task.ready || !!task.error, 60_000);
      assert.equal(view.status, 'SUCCESS', `${kind}: ${JSON.stringify(view.error)}`);
      assert.equal(view.ready, true, kind);
      assert.ok(view.assets.length >= EXPECTED_FILES[kind]!, `${kind}: ${view.assets.length} files`);
      if (kind !== 'split-stem') assert.equal(view.assets.length, EXPECTED_FILES[kind], `${kind} files`);
      if (kind === 'lyrics') assert.ok(view.lyrics?.[0]?.text, 'lyrics kept as data');
      for (const asset of view.assets) {
        const bytes = await readFile(asset.path);
        assert.equal(asset.sha256, createHash('sha256').update(bytes).digest('hex'));
        const source = Buffer.from(await (await fetch(asset.sourceUrl)).arrayBuffer());
        assert.deepEqual(bytes, source, `${asset.name} is byte-identical to the provider's file`);
      }
      const calls = (await stats()).tasks[taskId].calls as Record<string, number>;
      const total = Object.values(calls).reduce((sum, count) => sum + count, 0);
      assert.equal(
        total,
        2,
        `${kind}: submit + one confirming query, got ${JSON.stringify(calls)}; polls ${JSON.stringify(view.polls)}, receipts ${JSON.stringify(view.receipts)}`,
      );
    }
  });
});
