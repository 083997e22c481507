/**
 * The provider budget on a real Temporal server: one rate for every worker of the namespace,
 * confirmations ahead of polls, and a 430 that slows the whole fleet and then recovers.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ProviderError } from '../../src/provider/errors.ts';
import type { TaskKind } from '../../src/provider/kinds.ts';
import type { ProviderSnapshot } from '../../src/provider/types.ts';
import { BudgetGovernor, dispatchRate } from '../../src/temporal/providerBudget.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { startTestWorker } from '../support/temporal.ts';

interface Call {
  at: number;
  what: 'submit' | 'query';
  taskId?: string;
  worker: string;
}

/** The fake provider as one worker sees it: every call lands in the shared log, tagged. */
function through(provider: FakeProvider, log: Call[], worker: string) {
  return {
    submit: async (kind: TaskKind, input: Record<string, unknown>, url: string) => {
      log.push({ at: Date.now(), what: 'submit', worker });
      void input;
      void url;
      return provider.submit(kind);
    },
    query: async (kind: TaskKind, taskId: string): Promise<ProviderSnapshot> => {
      log.push({ at: Date.now(), what: 'query', taskId, worker });
      return provider.query(kind, taskId);
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function trackMany(stack: Stack, provider: FakeProvider, count: number): Promise<string[]> {
  const ids = await Promise.all(Array.from({ length: count }, () => provider.submit('music')));
  await Promise.all(ids.map((id) => stack.api('PUT', `/v1/tasks/${id}`, { kind: 'music' })));
  return ids;
}

describe('the provider budget (real Temporal, fake provider)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const media = new MediaServer();
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  before(() => media.start());
  after(() => media.close());

  it('holds one rate for two workers, and both of them serve it', async () => {
    const provider = new FakeProvider();
    const calls: Call[] = [];
    // Every task wants a poll every 100 ms: far more than the budget of 8 per second.
    const stack = await startStack({
      provider: through(provider, calls, 'one'),
      env: { PROVIDER_RATE_LIMIT: '8/1s', POLL_INTERVAL: '100ms', POLL_MAX_INTERVAL: '100ms' },
    });
    cleanups.push(() => stack.close());
    const second = await startTestWorker(stack.config, {
      provider: through(provider, calls, 'two'),
      callbackUrl: (kind) => stack.callbackUrl(kind),
    });
    cleanups.push(() => second.stop());
    await trackMany(stack, provider, 30);
    await sleep(6_000);
    const first = calls[0]!.at;
    const windowMs = 5_000;
    const inWindow = calls.filter((call) => call.at >= first && call.at < first + windowMs);
    const rate = dispatchRate(stack.config.providerBudget);
    // A token bucket lets `rate × window` through, plus its burst (about one second of calls).
    const most = Math.ceil(rate * (windowMs / 1000) + Math.ceil(rate)) + 1;
    assert.ok(
      inWindow.length <= most,
      `${inWindow.length} calls in ${windowMs} ms; the budget allows ${most}`,
    );
    assert.ok(
      inWindow.length >= rate * (windowMs / 1000) * 0.6,
      `${inWindow.length} calls: the budget is spent, not wasted`,
    );
    assert.deepEqual(new Set(calls.map((call) => call.worker)), new Set(['one', 'two']));
  });

  it('lets a confirmation overtake the timer polls waiting for the budget', async () => {
    const provider = new FakeProvider();
    const calls: Call[] = [];
    const stack = await startStack({
      provider: through(provider, calls, 'one'),
      mediaOrigins: [media.url],
      env: { PROVIDER_RATE_LIMIT: '2/1s', POLL_INTERVAL: '100ms', POLL_MAX_INTERVAL: '100ms' },
    });
    cleanups.push(() => stack.close());
    const polling = await trackMany(stack, provider, 16);
    // Sixteen polls want the budget of two a second: a backlog builds.
    await sleep(3_000);
    const [finished] = await trackMany(stack, provider, 1);
    const result = media.songResult(finished!);
    provider.set(finished!, 'music', 'SUCCESS', result);
    const asked = Date.now();
    await stack.postCallback('music', songCallback('complete', finished!, result, true));
    const view = await stack.waitForTask(finished!, (task) => task.ready, 20_000);
    assert.equal(view.status, 'SUCCESS');
    const after = calls.filter((call) => call.at >= asked);
    const confirmAt = after.findIndex((call) => call.taskId === finished);
    const pollsBefore = after.slice(0, confirmAt).filter((call) => polling.includes(call.taskId ?? ''));
    // Only calls the budget had already let through when the callback came (on a loaded machine a
    // dispatched call can take a second or two to reach the provider); in FIFO order all 16 would.
    assert.ok(pollsBefore.length <= 6, `${pollsBefore.length} polls went before the confirmation`);
    const views = await Promise.all(polling.map((id) => stack.api('GET', `/v1/tasks/${id}`)));
    const waiting = views.filter((answer) => answer.body.providerCall?.purpose === 'poll');
    assert.ok(waiting.length > 0, 'a task waiting for the budget says so in its view');
  });

  it('pauses the whole fleet on a storm of 430s, then recovers by itself', async () => {
    const provider = new FakeProvider();
    const calls: Call[] = [];
    const storm = { from: 0, until: 0 };
    const rateLimited: number[] = [];
    // The provider's own limit is spent by someone else for 3 s: every call then answers 430.
    const stormy = {
      submit: provider.submit.bind(provider),
      query: async (kind: TaskKind, taskId: string) => {
        const at = Date.now();
        calls.push({ at, what: 'query', taskId, worker: 'one' });
        if (at >= storm.from && at < storm.until) {
          rateLimited.push(at);
          throw new ProviderError('ProviderRateLimited', 430, 'Your call frequency is too high.', {
            retryAfterMs: 1_000,
          });
        }
        return provider.query(kind, taskId);
      },
    };
    const stack = await startStack({
      provider: stormy,
      env: { PROVIDER_RATE_LIMIT: '40/2s', POLL_INTERVAL: '100ms', POLL_MAX_INTERVAL: '100ms' },
    });
    cleanups.push(() => stack.close());
    const governor = BudgetGovernor.fromConfig(stack.client.connection, stack.config);
    await trackMany(stack, provider, 20);
    // Twenty tasks poll as fast as the budget (19 a second) lets them.
    await sleep(2_000);
    storm.from = Date.now();
    storm.until = storm.from + 3_000;
    // The queue's state as the server has it, read through the storm and the Retry-After after it
    // (on a loaded machine the first 430 may come late in the storm, and its pause outlasts it).
    const seen = new Set<string>();
    while (Date.now() < storm.until + 1_500) {
      seen.add((await governor.state()).source);
      await sleep(100);
    }
    assert.ok(seen.has('paused'), `the fleet was paused during the storm (seen: ${[...seen].join(', ')})`);
    // Without the fleet-wide pause the budget would keep sending about 19 calls a second into it.
    assert.ok(rateLimited.length >= 1, 'the storm was met');
    assert.ok(rateLimited.length <= 20, `${rateLimited.length} calls answered 430 in a 3 s storm`);
    // Paused for each Retry-After, then the configured budget again, untouched.
    const deadline = Date.now() + 15_000;
    let state = await governor.state();
    while (state.source !== 'budget' && Date.now() < deadline) {
      await sleep(250);
      state = await governor.state();
    }
    assert.equal(state.source, 'budget');
    const restored = Date.now();
    await sleep(2_000);
    const afterwards = calls.filter((call) => call.at >= restored).length;
    assert.ok(afterwards >= 10, `${afterwards} calls in the 2 s after recovery: the budget is spent again`);
  });
});
