import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProviderError, providerErrorType } from '../../src/provider/errors.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

const song = {
  customMode: true,
  instrumental: false,
  model: 'V4_5',
  prompt: 'A calm song',
  style: 'pop',
  title: 'Summer Breeze',
};

describe('task API (real Temporal, fake provider)', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' },
    });
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  it('submits, answers 202 with the task, and tracks it', async () => {
    const answer = await stack.api('POST', '/v1/tasks', { kind: 'music', input: song });
    assert.equal(answer.status, 202);
    assert.deepEqual(Object.keys(answer.body).sort(), [
      'idempotencyKey',
      'kind',
      'status',
      'submittedAt',
      'taskId',
      'workflowId',
    ]);
    assert.equal(answer.body.kind, 'music');
    assert.equal(answer.body.status, 'PENDING');
    assert.equal(answer.body.workflowId, `music-task-${answer.body.taskId}`);
    const view = await stack.api('GET', `/v1/tasks/${answer.body.taskId}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.summary, 'Summer Breeze');
    assert.deepEqual(view.body.receipts, []);
    assert.deepEqual(view.body.polls, []);
  });

  it('returns the same task for the same idempotency key, for one provider call', async () => {
    const before = provider.submits;
    const body = { kind: 'lyrics', input: { prompt: 'rain on glass' }, idempotencyKey: `key-${Date.now()}` };
    const answers = await Promise.all([1, 2, 3].map(() => stack.api('POST', '/v1/tasks', body)));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [202, 202, 202],
    );
    assert.equal(new Set(answers.map((answer) => answer.body.taskId)).size, 1);
    assert.equal((await stack.api('POST', '/v1/tasks', body)).body.taskId, answers[0]!.body.taskId);
    assert.equal(provider.submits - before, 1);
  });

  it('refuses bad input with 400 and a message, before any provider call', async () => {
    const before = provider.submits;
    const cases: [unknown, string, RegExp][] = [
      [{ kind: 'karaoke', input: {} }, 'invalid_request', /kind/],
      [{ kind: 'music' }, 'invalid_request', /input/],
      [{ kind: 'music', input: { ...song, model: 'V9' } }, 'invalid_input', /input\.model/],
      [
        { kind: 'music', input: { customMode: true, instrumental: false, model: 'V5', prompt: 'x' } },
        'invalid_input',
        /input\.style: custom mode requires it; input\.title: custom mode requires it/,
      ],
      [{ kind: 'wav', input: { taskId: 'abc' } }, 'invalid_input', /input\.audioId/],
      [{ kind: 'lyrics', input: { prompt: 'x', extra: 1 } }, 'invalid_input', /extra/],
      [{ kind: 'music', input: song, idempotencyKey: 'has spaces' }, 'invalid_request', /idempotencyKey/],
    ];
    for (const [body, error, message] of cases) {
      const answer = await stack.api('POST', '/v1/tasks', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error, error);
      assert.match(answer.body.message, message);
    }
    // Every problem at once, each with its field, and the kind's fields to fix them with.
    const bare = await stack.api('POST', '/v1/tasks', { kind: 'music', input: { prompt: 'a calm song' } });
    assert.equal(bare.status, 400);
    assert.deepEqual(
      bare.body.problems.map((problem: { field: string }) => problem.field),
      ['input.customMode', 'input.instrumental', 'input.model'],
    );
    assert.match(
      bare.body.message,
      /^3 problems with the music input: input\.customMode: required \(boolean\); input\.instrumental: required \(boolean\); input\.model: required: one of V4, V4_5, /,
    );
    assert.deepEqual(bare.body.fields.required, ['customMode', 'instrumental', 'model']);
    assert.ok(bare.body.fields.optional.includes('prompt'));
    const notJson = await stack.api('POST', '/v1/tasks', '{"kind":');
    assert.equal(notJson.status, 400);
    assert.equal(provider.submits, before);
  });

  it('refuses texts over the documented limits as the provider would (413), without calling it', async () => {
    const before = provider.submits;
    const answer = await stack.api('POST', '/v1/tasks', {
      kind: 'music',
      input: { ...song, model: 'V4', title: 'x'.repeat(81) },
    });
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error, 'provider_rejected');
    assert.equal(answer.body.providerCode, 413);
    assert.equal(provider.submits, before);
  });

  const terminal: [number, number, string][] = [
    [400, 422, 'provider_rejected'],
    [413, 422, 'provider_rejected'],
    [401, 502, 'provider_auth_failed'],
    [429, 429, 'provider_quota_exhausted'],
  ];
  for (const [code, status, error] of terminal) {
    it(`maps a provider ${code} on submit to HTTP ${status} ${error}, without retrying`, async () => {
      const before = provider.submits;
      provider.submitErrors.push(
        new ProviderError(providerErrorType(code, false), code, `provider says ${code}`),
      );
      const answer = await stack.api('POST', '/v1/tasks', { kind: 'cover-art', input: { taskId: 'abc' } });
      assert.equal(answer.status, status);
      assert.equal(answer.body.error, error);
      assert.equal(answer.body.providerCode, code);
      assert.equal(answer.body.providerMessage, `provider says ${code}`);
      assert.equal(provider.submits - before, 1);
    });
  }

  for (const code of [405, 430, 455, 500]) {
    it(`retries a provider ${code} on submit and then succeeds`, async () => {
      const before = provider.submits;
      provider.submitErrors.push(
        new ProviderError(providerErrorType(code, false), code, `provider says ${code}`, {
          retryAfterMs: 50,
        }),
      );
      const answer = await stack.api('POST', '/v1/tasks', {
        kind: 'wav',
        input: { taskId: 'abc', audioId: 'def' },
      });
      assert.equal(answer.status, 202);
      assert.equal(provider.submits - before, 2);
    });
  }

  it('lists recent tasks through visibility, filtered by kind and status', async () => {
    const submitted = await stack.api('POST', '/v1/tasks', {
      kind: 'mp4',
      input: { taskId: 'abc', audioId: 'def' },
    });
    const taskId = submitted.body.taskId as string;
    let listed: any[] = [];
    for (let attempt = 0; attempt < 50 && !listed.some((task) => task.taskId === taskId); attempt++) {
      listed = (await stack.api('GET', '/v1/tasks?kind=mp4&status=PENDING')).body.tasks;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const mine = listed.find((task) => task.taskId === taskId);
    assert.ok(mine, 'the new task is listed');
    assert.equal(mine.kind, 'mp4');
    assert.equal(mine.status, 'PENDING');
    assert.equal(mine.ready, false);
    assert.ok(listed.every((task) => task.kind === 'mp4'));
    assert.equal((await stack.api('GET', '/v1/tasks?status=not-a-status')).status, 400);
  });
});

describe('task API with API_TOKEN', () => {
  it('needs the bearer token on /v1 but not on health or webhooks', async () => {
    const provider = new FakeProvider();
    const stack = await startStack({ provider, env: { API_TOKEN: 'sesame-token' } });
    try {
      const denied = await stack.api('GET', '/v1/tasks');
      assert.equal(denied.status, 401);
      assert.equal(denied.body.error, 'unauthorized');
      const allowed = await fetch(`${stack.apiUrl}/v1/tasks`, {
        headers: { authorization: 'Bearer sesame-token' },
      });
      assert.equal(allowed.status, 200);
      assert.equal((await stack.api('GET', '/healthz')).status, 200);
    } finally {
      await stack.close();
    }
  });
});
