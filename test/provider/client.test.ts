import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ProviderClient } from '../../src/provider/client.ts';
import { ProviderError, type ProviderErrorType } from '../../src/provider/errors.ts';
import { TASK_KINDS } from '../../src/provider/kinds.ts';
import { buildSimulator, type SimulatorOptions } from '../../src/simulator/app.ts';
import { SAMPLE_INPUTS } from '../support/inputs.ts';

const CALLBACK = 'http://127.0.0.1:9/webhooks/music/music?token=t';

async function simulator(options: SimulatorOptions = {}): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildSimulator({
    apiKey: 'right-key',
    timeScale: 0.01,
    rateLimit: false,
    seed: 1,
    ...options,
  });
  return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

async function rejectsWith(
  call: Promise<unknown>,
  type: ProviderErrorType,
  code?: number,
): Promise<ProviderError> {
  let caught: unknown;
  await assert.rejects(call, (error: unknown) => {
    caught = error;
    return (
      error instanceof ProviderError &&
      error.type === type &&
      (code === undefined || error.providerCode === code)
    );
  });
  return caught as ProviderError;
}

describe('ProviderClient against the simulator', () => {
  let sim: { app: FastifyInstance; url: string };
  let client: ProviderClient;

  before(async () => {
    sim = await simulator();
    client = new ProviderClient({ baseUrl: sim.url, apiKey: 'right-key' });
  });
  after(() => sim.app.close());

  it('submits and queries every kind', async () => {
    for (const kind of TASK_KINDS) {
      const taskId = await client.submit(kind, SAMPLE_INPUTS[kind], CALLBACK);
      const snapshot = await client.query(kind, taskId);
      assert.equal(snapshot.taskId, taskId, kind);
      assert.equal(snapshot.kind, kind);
      assert.equal(snapshot.terminal, false, kind);
    }
  });

  it('reads a finished task of every kind', async () => {
    for (const kind of TASK_KINDS) {
      const taskId = await client.submit(
        kind,
        { ...SAMPLE_INPUTS[kind], ...(kind === 'cover-art' ? { taskId: `src-${kind}` } : {}) },
        CALLBACK,
      );
      await fetch(`${sim.url}/__sim/tasks/${taskId}/advance`, { method: 'POST' });
      const snapshot = await client.query(kind, taskId);
      assert.equal(snapshot.status, 'SUCCESS', kind);
      assert.equal(snapshot.finished, true, kind);
    }
  });

  it('maps 401 to ProviderAuthFailed, non-retryable', async () => {
    const wrong = new ProviderClient({ baseUrl: sim.url, apiKey: 'wrong-key' });
    const error = await rejectsWith(
      wrong.submit('lyrics', { prompt: 'x' }, CALLBACK),
      'ProviderAuthFailed',
      401,
    );
    assert.equal(error.retryable, false);
  });

  it('maps 400 (a missing field) to ProviderRejected with the provider message', async () => {
    const error = await rejectsWith(client.submit('wav', { taskId: 'x' }, CALLBACK), 'ProviderRejected', 400);
    assert.match(error.providerMessage, /audioId/);
    assert.equal(error.retryable, false);
  });

  it('refuses a text over the limit locally, as a 413, without a call', async () => {
    const before = (await (await fetch(`${sim.url}/__sim/stats`)).json()) as { requests: { total: number } };
    const input = { ...SAMPLE_INPUTS.music, model: 'V4', style: 's'.repeat(201) };
    await rejectsWith(client.submit('music', input, CALLBACK), 'ProviderRejected', 413);
    const afterwards = (await (await fetch(`${sim.url}/__sim/stats`)).json()) as {
      requests: { total: number };
    };
    assert.equal(afterwards.requests.total, before.requests.total);
  });

  it('maps an unknown task to ProviderTaskNotFound', async () => {
    await rejectsWith(client.query('music', 'no-such-task'), 'ProviderTaskNotFound', 404);
  });

  it('maps 429 (quota) to ProviderQuotaExhausted, non-retryable', async () => {
    const limited = await simulator({ quota: 1 });
    try {
      const quotaClient = new ProviderClient({ baseUrl: limited.url, apiKey: 'right-key' });
      await quotaClient.submit('lyrics', { prompt: 'x' }, CALLBACK);
      const error = await rejectsWith(
        quotaClient.submit('lyrics', { prompt: 'y' }, CALLBACK),
        'ProviderQuotaExhausted',
        429,
      );
      assert.equal(error.retryable, false);
    } finally {
      await limited.app.close();
    }
  });

  it('maps 430 (rate) to ProviderRateLimited and honours Retry-After', async () => {
    const limited = await simulator({ rateLimit: { max: 2, windowMs: 10_000 } });
    try {
      const rateClient = new ProviderClient({ baseUrl: limited.url, apiKey: 'right-key' });
      await rateClient.submit('lyrics', { prompt: 'a' }, CALLBACK);
      await rateClient.submit('lyrics', { prompt: 'b' }, CALLBACK);
      const error = await rejectsWith(
        rateClient.submit('lyrics', { prompt: 'c' }, CALLBACK),
        'ProviderRateLimited',
        430,
      );
      assert.equal(error.retryable, true);
      assert.ok(
        error.retryAfterMs! > 0 && error.retryAfterMs! <= 10_000,
        `retry after ${error.retryAfterMs} ms`,
      );
    } finally {
      await limited.app.close();
    }
  });

  it('maps the transient 405, 430, 455 and 500 to retryable types, on submit and on query', async () => {
    const flaky = await simulator({ faults: { transientSubmitError: 1, transientQueryError: 1 } });
    const expected: Record<number, ProviderErrorType> = {
      405: 'ProviderRateLimited',
      430: 'ProviderRateLimited',
      455: 'ProviderMaintenance',
      500: 'ProviderUnavailable',
    };
    try {
      const flakyClient = new ProviderClient({ baseUrl: flaky.url, apiKey: 'right-key' });
      const seen = new Set<number>();
      for (let attempt = 0; attempt < 40 && seen.size < 4; attempt++) {
        try {
          await flakyClient.submit('lyrics', { prompt: `p${attempt}` }, CALLBACK);
        } catch (error) {
          assert.ok(error instanceof ProviderError);
          assert.equal(error.type, expected[error.providerCode!], `code ${error.providerCode}`);
          assert.equal(error.retryable, true);
          seen.add(error.providerCode!);
        }
      }
      assert.deepEqual([...seen].sort(), [405, 430, 455, 500]);
    } finally {
      await flaky.app.close();
    }
    const flakyQueries = await simulator({ faults: { transientQueryError: 1 } });
    try {
      const flakyClient = new ProviderClient({ baseUrl: flakyQueries.url, apiKey: 'right-key' });
      const taskId = await flakyClient.submit('lyrics', { prompt: 'q' }, CALLBACK);
      const seen = new Set<number>();
      for (let attempt = 0; attempt < 40 && seen.size < 4; attempt++) {
        const error = await flakyClient.query('lyrics', taskId).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        if (!error) continue;
        assert.ok(error instanceof ProviderError);
        assert.equal(error.type, expected[error.providerCode!]);
        seen.add(error.providerCode!);
      }
      assert.ok(seen.size >= 2, `query errors seen: ${[...seen].join(', ')}`);
      const maintenance = new ProviderError('ProviderMaintenance', 455, 'maintenance');
      assert.ok(
        maintenance.retryAfterMs! > new ProviderError('ProviderRateLimited', 430, 'rate').retryAfterMs!,
      );
    } finally {
      await flakyQueries.app.close();
    }
  });

  it('maps a network failure and a timeout to ProviderUnavailable', async () => {
    await rejectsWith(
      new ProviderClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k' }).query('music', 'x'),
      'ProviderUnavailable',
    );
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const slow = new ProviderClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: 'k', timeoutMs: 200 });
      const error = await rejectsWith(slow.query('music', 'x'), 'ProviderUnavailable');
      assert.match(error.message, /timed out/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('never writes the key into an error', async () => {
    const wrong = new ProviderClient({ baseUrl: sim.url, apiKey: 'super-secret-key' });
    const error = await rejectsWith(wrong.query('music', 'x'), 'ProviderAuthFailed');
    assert.doesNotMatch(`${error.message} ${error.providerMessage} ${error.stack}`, /super-secret-key/);
  });
});
