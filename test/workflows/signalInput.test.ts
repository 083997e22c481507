import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseCallback } from '../../src/provider/callback.ts';
import { callbackKey } from '../../src/provider/callbackEnvelope.ts';
import { readCallbackSignal, refusalOf } from '../../src/workflows/signalInput.ts';
import type { CallbackSignal } from '../../src/workflows/state.ts';

const example = (name: string): unknown =>
  JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'fixtures', 'provider-examples', `${name}.json`), 'utf8'),
  );
const at = '2026-11-28T10:00:00.000Z';

/** The refusal text, or the signal as JSON when it was not refused. */
const reason = (answer: unknown) => (typeof answer === 'string' ? answer : JSON.stringify(answer));

describe('readCallbackSignal (what the workflow takes as a `callback` signal)', () => {
  it('takes the webhook envelope, keeping only the fields the workflow reads', () => {
    const signal = {
      callback: { taskId: 't', kind: 'music' as const, phase: 'text' as const, code: 200, result: { x: 1 } },
      receipt: { receivedAt: at, bodyHash: 'h' },
    };
    assert.deepEqual(readCallbackSignal(signal, 'music', at), {
      callback: { taskId: 't', kind: 'music', phase: 'text', code: 200 },
      receipt: { receivedAt: at, bodyHash: 'h' },
    });
  });

  it('reads the phase of raw provider bodies, bare or wrapped, with or without callbackType', () => {
    const cases: [string, 'music' | 'wav' | 'lyrics', string][] = [
      ['callback-text-bare', 'music', 'text'],
      ['callback-first-bare', 'music', 'first'],
      ['callback-complete-bare', 'music', 'complete'],
      ['callback-complete-wrapped', 'music', 'complete'],
      ['callback-error', 'music', 'error'],
      ['callback-wav', 'wav', 'complete'],
      ['callback-lyrics', 'lyrics', 'complete'],
    ];
    for (const [name, kind, phase] of cases) {
      const signal = readCallbackSignal(example(name), kind, at);
      assert.ok(typeof signal !== 'string', `${name}: ${JSON.stringify(signal)}`);
      assert.equal(signal.callback.phase, phase, name);
      assert.ok(signal.callback.taskId.length > 0);
      assert.equal(signal.receipt.bodyHash, callbackKey(example(name)));
    }
  });

  it('refuses what is not a provider callback, with a reason', () => {
    assert.match(reason(readCallbackSignal(42, 'music', at)), /must be an object/);
    assert.match(reason(readCallbackSignal({ nonsense: true }, 'music', at)), /no task_id/);
    assert.match(
      reason(readCallbackSignal({ task_id: 'x', callbackType: 'halfway' }, 'music', at)),
      /unknown callbackType/,
    );
  });

  it('keys bodies deterministically, apart when they differ in one character', () => {
    assert.equal(callbackKey({ a: 1 }), callbackKey({ a: 1 }));
    assert.notEqual(callbackKey({ a: 1 }), callbackKey({ a: 2 }));
    assert.notEqual(callbackKey({ ab: 1 }), callbackKey({ ba: 1 }));
  });

  it('reads every body as the webhook does: the same phase, task id and code, every alias', () => {
    const bodies: [string, 'music' | 'wav' | 'lyrics', unknown][] = [
      ...(
        [
          ['callback-text-bare', 'music'],
          ['callback-first-bare', 'music'],
          ['callback-complete-bare', 'music'],
          ['callback-complete-wrapped', 'music'],
          ['callback-error', 'music'],
          ['callback-wav', 'wav'],
          ['callback-lyrics', 'lyrics'],
        ] as const
      ).map(([name, kind]): [string, 'music' | 'wav' | 'lyrics', unknown] => [name, kind, example(name)]),
      ['callbackType fail', 'music', { task_id: 'a1', callbackType: 'fail', data: null }],
      ['callbackType Failed', 'music', { task_id: 'a1', callbackType: ' Failed ', data: null }],
      ['camelCase taskId', 'music', { taskId: 'a1', callbackType: 'text', data: [] }],
      [
        'error code in the envelope',
        'music',
        { code: 501, msg: 'boom', data: { task_id: 'a1', callbackType: 'complete' } },
      ],
    ];
    for (const [name, kind, body] of bodies) {
      const webhook = parseCallback(kind, body);
      const signal = readCallbackSignal(body, kind, at);
      assert.ok(typeof signal !== 'string', `${name}: ${JSON.stringify(signal)}`);
      assert.deepEqual(
        { taskId: signal.callback.taskId, phase: signal.callback.phase, code: signal.callback.code },
        { taskId: webhook.taskId, phase: webhook.phase, code: webhook.code },
        name,
      );
    }
  });
});

describe('refusalOf (whose callback a musicTask takes)', () => {
  const signal = (callback: Partial<CallbackSignal['callback']>): CallbackSignal => ({
    callback: { taskId: 't1', kind: 'music', phase: 'text', code: 200, ...callback },
    receipt: { receivedAt: at, bodyHash: 'h' },
  });
  const audience = { taskId: 't1', kind: 'music' as const, nonces: ['t.t1', 's.key-1'] };

  it('takes its own task, kind and nonces, and a callback that came with the operator secret', () => {
    assert.equal(refusalOf(signal({}), audience), undefined);
    assert.equal(refusalOf(signal({ nonce: 's.key-1' }), audience), undefined);
    assert.equal(refusalOf(signal({ nonce: 't.t1' }), audience), undefined);
  });

  it('refuses another task, another kind, and a nonce issued for another submission', () => {
    assert.match(refusalOf(signal({ taskId: 't2' }), audience)!, /names task/);
    assert.match(refusalOf(signal({ kind: 'mp4' }), audience)!, /mp4 callback for a music task/);
    assert.match(refusalOf(signal({ nonce: 's.key-2' }), audience)!, /another task/);
  });

  it('clips every field of a webhook-shaped signal, whatever a Temporal client sent', () => {
    const huge = 'x'.repeat(100_000);
    const read = readCallbackSignal(
      {
        callback: { taskId: huge, kind: 'music', phase: 'text', code: 200, nonce: huge, result: { huge } },
        receipt: { receivedAt: huge, bodyHash: huge },
      },
      'music',
      at,
    );
    assert.ok(typeof read !== 'string');
    assert.ok(JSON.stringify(read).length < 2_000, `${JSON.stringify(read).length} characters kept`);
    assert.equal(
      readCallbackSignal(
        { callback: { taskId: 't', phase: 'constructor' }, receipt: { receivedAt: at, bodyHash: 'h' } },
        'music',
        at,
      ),
      'unknown callback phase "constructor"',
    );
  });
});
