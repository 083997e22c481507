/**
 * The chaos run scaled down for `npm test`: 30 tasks of every kind against the faulty simulator
 * while the worker, the HTTP server and the Temporal dev server are each killed and restarted
 * once. Same code as `npm run chaos` (bench/chaos/scenario.ts), smaller numbers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeChaos } from '../../bench/chaos/report.ts';
import { runChaos } from '../../bench/chaos/scenario.ts';
import { sentPhases, type CallbackFaults } from '../../src/simulator/faults.ts';

describe('chaos (scaled down)', () => {
  it(
    'every task ends as the simulator says, assets stored once, no unhandled error, through a restart of each part',
    { timeout: 15 * 60_000 },
    async (t) => {
      const report = await runChaos({
        tasks: 30,
        restarts: { worker: 1, server: 1, temporal: 1 },
        seed: 11,
        timeScale: 0.05,
        ...(process.env.TEST_SCRATCH_DIR ? { scratchDir: process.env.TEST_SCRATCH_DIR } : {}),
        settleTimeoutMs: 8 * 60_000,
      });
      const summary = describeChaos(report);
      t.diagnostic(summary);
      assert.deepEqual(report.failures, [], summary);
      assert.equal(report.verdicts.length, 30);
      assert.deepEqual(
        report.disruptions.map((disruption) => disruption.part),
        ['worker', 'server', 'temporal'],
      );
      // The run proves something only if the faults really happened to callbacks that were due.
      const met = (fault: (phase: CallbackFaults) => boolean) =>
        report.verdicts.some((verdict) =>
          sentPhases(verdict.kind, verdict.faults.failure).some((phase) =>
            fault(verdict.faults.callbacks[phase]),
          ),
        );
      assert.ok(
        met((phase) => phase.drop),
        'a callback was dropped',
      );
      assert.ok(
        met((phase) => phase.copies > 1),
        'a callback was tripled',
      );
    },
  );
});
