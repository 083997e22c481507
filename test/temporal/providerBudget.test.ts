/**
 * The provider budget on a real Temporal server: one rate for every worker of the namespace,
 * confirmations ahead of polls, and a 430 that slows the whole fleet and then recovers.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
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
  let mediaStarted = false;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(async () => {
    if (mediaStarted) await media.close();
  });

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
    const sliding = Math.max(
      ...calls.map(
        (call) => calls.filter((other) => other.at >= call.at && other.at < call.at + 1_000).length,
      ),
    );
    assert.ok(sliding <= 8 + 1, `at most the limit (8) in any second after the first burst; saw ${sliding}`);
  });

  it('lets a confirmation overtake the timer polls waiting for the budget', async () => {
    if (!mediaStarted) {
      await media.start();
      mediaStarted = true;
    }
    const provider = new FakeProvider();
    const calls: Call[] = [];
    const stack = await startStack({
      provider: through(provider, calls, 'one'),
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
    // At most the call the budget had already let through when the callback came.
    assert.ok(pollsBefore.length <= 1, `${pollsBefore.length} polls went before the confirmation`);
    const views = await Promise.all(polling.map((id) => stack.api('GET', `/v1/tasks/${id}`)));
    const waiting = views.filter((answer) => answer.body.providerCall?.purpose === 'poll');
    assert.ok(waiting.length > 0, 'a task waiting for the budget says so in its view');
  });

  it('pauses the whole fleet on a storm of 430s, then recovers by itself', async () => {
    if (!mediaStarted) {
      await media.start();
      mediaStarted = true;
    }
    const provider = new FakeProvider();
    const calls: Call[] = [];
    const limitedUntil = { at: 0 };
    const rateLimited: number[] = [];
    const stormy = {
      submit: provider.submit.bind(provider),
      query: async (kind: TaskKind, taskId: string) => {
        calls.push({ at: Date.now(), what: 'query', taskId, worker: 'one' });
        if (Date.now() < limitedUntil.at) {
          rateLimited.push(Date.now());
          throw new ProviderError('ProviderRateLimited', 430, 'Your call frequency is too high.', {
            retryAfterMs: 1_000,
          });
        }
        return provider.query(kind, taskId);
      },
    };
    const stack = await startStack({
      provider: stormy,
      env: { PROVIDER_RATE_LIMIT: '20/2s', POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '1m' },
    });
    cleanups.push(() => stack.close());
    const governor = BudgetGovernor.fromConfig(stack.client.connection, stack.config);
    const ids = await trackMany(stack, provider, 12);
    limitedUntil.at = Date.now() + 1_500;
    for (const id of ids) {
      const result = media.songResult(id);
      provider.set(id, 'music', 'SUCCESS', result);
      await stack.postCallback('music', songCallback('complete', id, result, true));
    }
    await Promise.all(ids.map((id) => stack.waitForTask(id, (task) => task.ready, 30_000)));
    assert.ok(rateLimited.length >= 1, 'the storm was met');
    // Twelve confirmations at once: without the fleet-wide pause each would meet its own 430s.
    assert.ok(rateLimited.length <= 4, `${rateLimited.length} calls answered 430`);
    const firstLimited = rateLimited[0]!;
    const duringPause = calls.filter((call) => call.at > firstLimited + 100 && call.at < firstLimited + 900);
    assert.ok(duringPause.length <= 1, `${duringPause.length} calls while the fleet was paused`);
    // Paused, then slowed for one window (2 s), then the configured budget again.
    const deadline = Date.now() + 10_000;
    let state = await governor.state();
    while (state.source !== 'budget' && Date.now() < deadline) {
      await sleep(250);
      state = await governor.state();
    }
    assert.equal(state.source, 'budget');
  });
});
