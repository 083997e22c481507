import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLogLine, resolveLogFormat } from '../../src/observability/logging.ts';
import { sdkLogLevel } from '../../src/observability/sdkLogger.ts';
import { partOutput } from '../../src/startOutput.ts';

const callbackLine = JSON.stringify({
  level: 30,
  time: Date.parse('2026-01-01T10:00:00Z'),
  pid: 1,
  hostname: 'h',
  reqId: 'req-1',
  taskId: '3c1e0a6b9f2d',
  phase: 'first',
  outcome: 'signalled',
  msg: 'callback',
});

describe('what `npm start` shows', () => {
  it('on a terminal: one readable line per event with its part, level and task id', () => {
    const show = partOutput('pretty', false);
    const line = show('server', callbackLine)!;
    assert.match(
      line,
      /^\[\d\d:\d\d:\d\d\] INFO \(server\): callback {2}taskId=3c1e0a6b9f2d {2}phase=first {2}outcome=signalled$/,
    );
    assert.doesNotMatch(line, /reqId|hostname|pid/);
    assert.equal(
      show('worker', 'worker polling music-tasks and music-postprocess at 127.0.0.1:7233'),
      undefined,
    );
    assert.equal(show('temporal', 'CLI 1.4.1 (Server 1.29.1, UI 2.42.1)'), undefined);
    assert.equal(show('server', ''), undefined);
    const temporalError = show('temporal', '{"level":"error","ts":"x","msg":"persistence down"}')!;
    assert.match(temporalError, /ERROR \(temporal\): persistence down/);
    assert.match(show('worker', 'a plain line')!, /INFO \(worker\): a plain line/);
    assert.match(
      show('simulator', 'Error: listen EADDRINUSE', 'stderr')!,
      /ERROR \(simulator\): Error: listen/,
    );
    const logfmt = 'time=2026-12-01T21:29:21.043 level=ERROR msg="Operation failed"';
    assert.match(show('temporal', logfmt, 'stderr')!, /ERROR \(temporal\): time=/);
    assert.match(show('temporal', 'time=x level=info msg=ok', 'stderr')!, /INFO \(temporal\)/);
  });

  it('in a pipe: JSON lines, each naming its part', () => {
    const show = partOutput('json', false);
    assert.deepEqual(JSON.parse(show('server', callbackLine)!), {
      part: 'server',
      ...JSON.parse(callbackLine),
    });
    const wrapped = JSON.parse(show('worker', 'worker polling music-tasks')!);
    assert.equal(wrapped.part, 'worker');
    assert.equal(wrapped.msg, 'worker polling music-tasks');
  });

  it('chooses JSON unless stdout is a terminal, and LOG_FORMAT decides when set', () => {
    assert.equal(resolveLogFormat(undefined, { isTTY: true }), 'pretty');
    assert.equal(resolveLogFormat(undefined, { isTTY: false }), 'json');
    assert.equal(resolveLogFormat('json', { isTTY: true }), 'json');
    assert.equal(resolveLogFormat('pretty', {}), 'pretty');
  });

  it('shows an error’s message after the fields', () => {
    const text = describeLogLine({ msg: 'could not signal', taskId: 't1', err: { message: 'unavailable' } });
    assert.equal(text, 'could not signal  taskId=t1  — unavailable');
    const sdk = describeLogLine({
      msg: 'Activity failed',
      taskId: 't2',
      error: { message: 'Task not found' },
    });
    assert.equal(sdk, 'Activity failed  taskId=t2  — Task not found');
  });

  it('demotes the SDK’s routine start-up lines to debug, keeps real warnings', () => {
    assert.equal(sdkLogLevel('WARN', 'No workflows registered, not polling for workflow tasks'), 'DEBUG');
    assert.equal(
      sdkLogLevel(
        'INFO',
        'asset workflow-bundle.js 1.2 MiB\nwebpack 5.99.9 compiled successfully in 2130 ms',
      ),
      'DEBUG',
    );
    assert.equal(sdkLogLevel('WARN', 'Activity failed'), 'WARN');
    assert.equal(sdkLogLevel('ERROR', 'Workflow bundle created'), 'ERROR');
  });
});
