/**
 * Submissions are durable: queued behind the provider budget or an outage, visible at
 * `GET /v1/submissions/:idempotencyKey`, sent once the provider answers, failed clearly after
 * SUBMIT_DEADLINE (and then open to a retry with the same key), and never lost to a restart.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ProviderError } from '../../src/provider/errors.ts';
import type { TaskKind } from '../../src/provider/kinds.ts';
import { startDevServer } from '../../src/temporal/devServer.ts';
import { FakeProvider } from '../support/fakeProvider.ts';
import { freePort } from '../support/ports.ts';
import { startStack, type Stack, type StackOptions } from '../support/stack.ts';
import { eventually } from '../support/eventually.ts';
import { scratchDir } from '../support/temporal.ts';

/** The fake provider behind a switch: while `down`, every submit answers 500. */
function switchable(provider: FakeProvider) {
  const state = { down: false };
  return {
    state,
    provider: {
      submit: async (kind: TaskKind) => {
        if (state.down) throw new ProviderError('ProviderUnavailable', 500, 'Server error.');
        return provider.submit(kind);
      },
      query: provider.query.bind(provider),
    },
  };
}

const lyrics = (prompt: string) => ({ kind: 'lyrics', input: { prompt } });

const until = <T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000) =>
  eventually(read, done, { timeoutMs });

describe('durable submissions (real Temporal, fake provider)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function stackWith(env: Record<string, string>, provider: StackOptions['provider']) {
    const stack = await startStack({ provider, env: { SUBMIT_WAIT: '500ms', ...env } });
    cleanups.push(() => stack.close());
    return stack;
  }
  const submission = (stack: Stack, key: string) => stack.api('GET', `/v1/submissions/${key}`);

  it('queues a submission while the provider is down, shows it, and sends it once it is back', async () => {
    const fake = new FakeProvider();
    const { state, provider } = switchable(fake);
    const stack = await stackWith({}, provider);
    state.down = true;
    const key = `down-${Date.now()}`;
    const queued = await stack.api('POST', '/v1/tasks', { ...lyrics('rain'), idempotencyKey: key });
    assert.equal(queued.status, 202);
    assert.deepEqual(queued.body, {
      idempotencyKey: key,
      kind: 'lyrics',
      status: 'QUEUED',
      submission: `/v1/submissions/${key}`,
    });
    const waiting = await until(
      () => submission(stack, key),
      // A started first attempt counts too; its error shows once it failed.
      (answer) => answer.body.attempts >= 1 && answer.body.lastError !== undefined,
    );
    assert.equal(waiting.status, 200);
    assert.equal(waiting.body.status, 'QUEUED');
    assert.match(waiting.body.lastError, /Server error/);
    assert.equal(fake.submits, 0, 'nothing reached the provider while it was down');
    state.down = false;
    const sent = await until(
      () => submission(stack, key),
      (answer) => answer.body.status === 'SUBMITTED',
    );
    assert.equal(sent.body.workflowId, `music-task-${sent.body.taskId}`);
    assert.equal((await stack.api('GET', `/v1/tasks/${sent.body.taskId}`)).status, 200);
    // The same key again: the same task, no second provider call.
    const again = await stack.api('POST', '/v1/tasks', { ...lyrics('rain'), idempotencyKey: key });
    assert.equal(again.body.taskId, sent.body.taskId);
    assert.equal(fake.submits, 1);
  });

  it('answers 202 to every submit whose wait runs out while the provider is slow, never a 500', async () => {
    const fake = new FakeProvider();
    const slow = {
      submit: async (kind: TaskKind) => {
        // Answers around the end of SUBMIT_WAIT: some waits end first, some just after.
        await new Promise((resolve) => setTimeout(resolve, 350 + Math.random() * 300));
        return fake.submit(kind);
      },
      query: fake.query.bind(fake),
    };
    const stack = await stackWith({}, slow);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        stack.api('POST', '/v1/tasks', {
          ...lyrics(`drizzle ${n}`),
          idempotencyKey: `slow-${Date.now()}-${n}`,
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    assert.deepEqual(
      statuses.filter((status) => status !== 202),
      [],
      JSON.stringify(answers.find((answer) => answer.status !== 202)?.body),
    );
    for (const answer of answers) assert.ok(answer.body.taskId ?? answer.body.status === 'QUEUED');
  });

  it('fails a submission not sent within SUBMIT_DEADLINE, and sends it when asked again with its key', async () => {
    const fake = new FakeProvider();
    const { state, provider } = switchable(fake);
    const stack = await stackWith({ SUBMIT_DEADLINE: '2s' }, provider);
    state.down = true;
    const key = `deadline-${Date.now()}`;
    const queued = await stack.api('POST', '/v1/tasks', { ...lyrics('snow'), idempotencyKey: key });
    assert.equal(queued.body.status, 'QUEUED');
    const failed = await until(
      () => submission(stack, key),
      (answer) => answer.body.status !== 'QUEUED',
    );
    assert.equal(failed.body.status, 'FAILED');
    assert.equal(failed.body.error.error, 'submit_deadline_exceeded');
    assert.match(failed.body.error.message, /SUBMIT_DEADLINE .*same idempotencyKey/);
    state.down = false;
    const retried = await stack.api('POST', '/v1/tasks', { ...lyrics('snow'), idempotencyKey: key });
    assert.equal(retried.status, 202);
    // A loaded machine may answer before the provider did: then the submission shows the task.
    const sent = await until(
      () => submission(stack, key),
      (answer) => answer.body.status === 'SUBMITTED',
    );
    if (retried.body.taskId) assert.equal(retried.body.taskId, sent.body.taskId);
    assert.equal(fake.submits, 1);
  });

  it('keeps a refusal for good and never sends it again', async () => {
    const fake = new FakeProvider();
    // A wait long enough for the provider's refusal to come back within the request.
    const stack = await stackWith({ SUBMIT_WAIT: '30s' }, fake);
    fake.submitErrors.push(new ProviderError('ProviderRejected', 400, 'prompt is not allowed'));
    const key = `refused-${Date.now()}`;
    const first = await stack.api('POST', '/v1/tasks', { ...lyrics('x'), idempotencyKey: key });
    assert.equal(first.status, 422);
    assert.equal(first.body.error, 'provider_rejected');
    const second = await stack.api('POST', '/v1/tasks', { ...lyrics('x'), idempotencyKey: key });
    assert.deepEqual(
      [second.status, second.body.error, second.body.message],
      [422, 'provider_rejected', 'prompt is not allowed'],
    );
    const shown = await submission(stack, key);
    assert.equal(shown.body.status, 'REJECTED');
    assert.equal(shown.body.error.providerCode, 400);
    assert.equal(fake.submits, 1);
    assert.equal((await submission(stack, 'no-such-key')).status, 404);
  });

  it('keeps queued submissions through a worker and a Temporal server restart', async () => {
    const port = await freePort();
    const dbFile = join(scratchDir('restart'), 'temporal.sqlite');
    let server = await startDevServer({ port, dbFile });
    cleanups.push(() => server.stop());
    const fake = new FakeProvider();
    const stack = await stackWith({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }, fake);
    await stack.stopWorker();
    const keys = [1, 2, 3].map((n) => `restart-${Date.now()}-${n}`);
    for (const key of keys) {
      const queued = await stack.api('POST', '/v1/tasks', { ...lyrics(key), idempotencyKey: key });
      assert.equal(queued.body.status, 'QUEUED');
    }
    await server.stop();
    server = await startDevServer({ port, dbFile });
    await stack.startWorker();
    for (const key of keys) {
      const sent = await until(
        () => submission(stack, key),
        (answer) => answer.body.status === 'SUBMITTED',
        60_000,
      );
      assert.equal((await stack.api('GET', `/v1/tasks/${sent.body.taskId}`)).status, 200);
    }
    assert.equal(fake.submits, keys.length);
  });
});
