import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanLogs } from '../../bench/chaos/logScan.ts';
import type { LogLine } from '../../bench/support/processes.ts';

const lines = (process: string, ...texts: string[]): LogLine[] =>
  texts.map((text) => ({ process, incarnation: 1, stream: 'stderr', text }));

describe('the chaos log scan', () => {
  it('counts warnings, their stacks included, without calling them problems', () => {
    const scan = scanLogs([
      ...lines(
        'worker',
        '2026-11-28T10:46:21.000Z [WARN] Activity failed {',
        '  error: ApplicationFailure: Server error.',
        '      at toFailure (/app/src/activities/index.ts:26:31)',
        '}',
        '\u001b[2m2026-11-28T10:48:09.831951Z\u001b[0m \u001b[33m WARN\u001b[0m temporalio_client::retry: gRPC call retried 6 times error=Status { code: Unavailable }',
        'worker polling music-tasks at 127.0.0.1:7233',
      ),
      ...lines('server', '{"level":40,"time":1,"msg":"could not signal the task workflow"}'),
    ]);
    assert.deepEqual(scan.problems, []);
    assert.equal(scan.warnings, 3);
  });

  it('reports errors logged at error level and crashes printed without a logger', () => {
    const scan = scanLogs([
      ...lines('server', '{"level":50,"time":1,"msg":"request failed"}'),
      ...lines('worker', '2026-11-28T10:46:21.000Z [ERROR] Worker failed'),
      ...lines(
        'worker',
        'file:///app/src/worker.ts:12',
        'TypeError: Cannot read properties of undefined',
        '    at main (/app/src/worker.ts:12:3)',
      ),
      ...lines('server', '[UnhandledPromiseRejection: This error originated either by throwing inside…]'),
    ]);
    assert.equal(scan.problems.length, 4, JSON.stringify(scan.problems, null, 2));
    assert.deepEqual(
      scan.problems.map((problem) => problem.process),
      ['server', 'worker', 'worker', 'server'],
    );
  });
});
