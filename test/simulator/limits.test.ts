import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSimulator } from '../../src/simulator/app.ts';
import { RateLimiter } from '../../src/simulator/rate-limit.ts';
import { example, startSimulator } from './simulator-harness.ts';

const CALLBACK = 'http://127.0.0.1:9/webhooks/music?token=t';

test('the 21st request within 10 s of one key is 430 with Retry-After; other keys are unaffected', async () => {
  const sim = await startSimulator({ rateLimit: { max: 20, windowMs: 10_000 } });
  try {
    for (let i = 0; i < 20; i++) {
      assert.equal((await sim.call('GET', '/suno/query/task?taskId=x')).body.code, 404);
    }
    const limited = await sim.call('GET', '/suno/query/task?taskId=x');
    assert.equal(limited.status, 430);
    assert.equal(limited.body.code, 430);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter}`);
    assert.deepEqual(limited.body, example('error-envelope-430'));
    assert.equal((await sim.submit('lyrics', CALLBACK)).status, 430, 'submits share the limit');
    assert.equal((await sim.call('GET', '/suno/query/task?taskId=x', undefined, 'other-key')).body.code, 404);
    assert.equal((await sim.control('GET', '/stats')).requests.byCode['430'], 2);
  } finally {
    await sim.close();
  }
});

test('the provider limit (20 per 10 s) is on by default', async () => {
  const app = await buildSimulator({ seed: 1 });
  try {
    const codes: number[] = [];
    for (let i = 0; i < 21; i++) {
      const url = '/suno/query/task?taskId=x';
      codes.push((await app.inject({ url, headers: { authorization: 'Bearer k' } })).statusCode);
    }
    assert.deepEqual(codes.slice(19), [200, 430]);
  } finally {
    await app.close();
  }
});

test('the limiter frees a slot when the window slides', () => {
  let now = 0;
  const limiter = new RateLimiter({ max: 2, windowMs: 10_000 }, () => now);
  assert.equal(limiter.take('k'), 0);
  now = 4_000;
  assert.equal(limiter.take('k'), 0);
  assert.equal(limiter.take('k'), 6, 'the first hit leaves the window at 10 s');
  now = 10_001;
  assert.equal(limiter.take('k'), 0);
});

test('after the quota of tasks, submits answer 429 "The current credits are insufficient."', async () => {
  const sim = await startSimulator({ quota: 2 });
  try {
    await sim.create('lyrics', CALLBACK);
    await sim.create('wav', CALLBACK);
    const refused = await sim.submit('music', CALLBACK);
    assert.equal(refused.status, 200);
    assert.deepEqual(refused.body, { code: 429, msg: 'The current credits are insufficient.', data: null });
    assert.deepEqual(refused.body, example('error-envelope-429'));
    assert.deepEqual((await sim.control('GET', '/stats')).quota, { limit: 2, used: 2 });
    await sim.control('POST', '/reset');
    assert.equal((await sim.submit('music', CALLBACK)).body.code, 200, 'a reset restores the credits');
  } finally {
    await sim.close();
  }
});
