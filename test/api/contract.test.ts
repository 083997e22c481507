/**
 * The HTTP contract without Temporal: the app on a fake task client, driven through `app.inject()`.
 * The OpenAPI document is valid and names every route; each route's answers keep to their declared
 * schemas (anything else is our bug: a 500, never a leak); the edge cases answer their 4xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp, type TaskOperations } from '../../src/app.ts';
import { taskView, type TaskView } from '../../src/contract/schemas.ts';
import { callbackUrlFor } from '../../src/webhook/token.ts';
import { submissionNonce } from '../../src/workflows/callbackNonce.ts';
import {
  KindMismatch,
  ProviderRejected,
  SubmissionFailed,
  TaskAlreadyFinished,
  TaskNotFound,
} from '../../src/tasks/errors.ts';
import { testConfig } from '../support/temporal.ts';

const view = (taskId: string): TaskView => ({
  taskId,
  workflowId: `music-task-${taskId}`,
  kind: 'music',
  status: 'SUCCESS',
  ready: true,
  submittedAt: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:03:00.000Z',
  assets: [
    {
      id: `${taskId}-audio`,
      type: 'audio',
      name: 'a.mp3',
      sourceUrl: 'https://cdn.example/a.mp3',
      path: '/data/assets/a.mp3',
      bytes: 10,
      sha256: 'ab',
      url: `/v1/assets/${taskId}-audio`,
    },
  ],
  receipts: [{ callbackType: 'complete', receivedAt: '2026-12-01T10:02:00.000Z', duplicate: false }],
  receiptCounts: { total: 1, duplicates: 0, byPhase: { complete: 1 } },
  polls: [],
  pollCount: 0,
});

/** A task client that answers from a table, and records what it was asked. */
function fakeTasks(calls: string[]): TaskOperations {
  return {
    submit: async (kind, _input, idempotencyKey) => {
      calls.push(`submit ${kind} ${idempotencyKey}`);
      if (idempotencyKey === 'refused')
        throw new ProviderRejected('ProviderQuotaExhausted', 'no credits', 429);
      if (idempotencyKey === 'late') {
        throw new SubmissionFailed('submit_deadline_exceeded', 'not sent within SUBMIT_DEADLINE', 'late');
      }
      if (idempotencyKey === 'queued') {
        return {
          idempotencyKey,
          status: 'QUEUED',
          kind,
          queuedAt: '2026-12-01T10:00:00.000Z',
          attempts: 0,
        };
      }
      return {
        idempotencyKey,
        status: 'SUBMITTED',
        kind,
        taskId: 'task-1',
        workflowId: 'music-task-task-1',
        submittedAt: '2026-12-01T10:00:00.000Z',
      };
    },
    submission: async (idempotencyKey) => ({
      idempotencyKey,
      status: 'QUEUED',
      kind: 'music',
      queuedAt: '2026-12-01T10:00:00.000Z',
      attempts: 2,
      lastError: 'ProviderRateLimited (430)',
    }),
    track: async (taskId, kind) => {
      calls.push(`track ${taskId}`);
      if (taskId === 'lyrics-task') throw new KindMismatch(taskId, 'lyrics');
      return { created: taskId !== 'known', kind, status: 'PENDING' };
    },
    get: async (taskId) => {
      if (taskId === 'missing') throw new TaskNotFound(taskId);
      const answer = view(taskId);
      if (taskId === 'leaky') {
        // What a careless change could put in a view: internals the contract does not name.
        return {
          ...answer,
          seenBodies: ['x'],
          receipts: [{ ...answer.receipts[0]!, bodyHash: 'cb-1' }],
        } as unknown as TaskView;
      }
      if (taskId === 'broken') return { ...answer, ready: 'yes' } as unknown as TaskView;
      return answer;
    },
    list: async () => [
      {
        taskId: 'task-1',
        workflowId: 'music-task-task-1',
        kind: 'music',
        status: 'PENDING',
        ready: false,
        startedAt: '2026-12-01T10:00:00.000Z',
      },
    ],
    cancel: async (taskId) => {
      if (taskId === 'done') throw new TaskAlreadyFinished(taskId, 'SUCCESS', true);
      return 'CANCELLING';
    },
    deliverCallback: async () => {
      calls.push('deliverCallback');
      return true;
    },
    deliverToTracked: async () => {
      calls.push('deliverToTracked');
      return true;
    },
  };
}

async function appWith(env: Record<string, string> = {}) {
  const calls: string[] = [];
  const config = testConfig({ ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
  // Never dialled: every task operation goes to the fake.
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const app = await buildApp(config, {
    client: new Client({ connection }),
    connection,
    tasks: fakeTasks(calls),
    webhookSecrets: [config.webhookSecret!],
  });
  return { app, calls, config };
}

const song = {
  kind: 'music',
  input: { prompt: 'a calm song', customMode: false, instrumental: false, model: 'V4_5' },
};

describe('the HTTP contract (app.inject, a fake task client)', () => {
  let app: FastifyInstance;
  let calls: string[];
  let config: Awaited<ReturnType<typeof appWith>>['config'];

  before(async () => {
    ({ app, calls, config } = await appWith());
  });
  after(() => app.close());

  it('serves a valid OpenAPI 3.1 document that names every route, each with its answers', async () => {
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const document = response.json();
    assert.equal(document.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(document);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 2_000));

    const documented = new Set<string>();
    for (const [path, operations] of Object.entries<Record<string, { responses?: object }>>(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        assert.ok(
          operation.responses && Object.keys(operation.responses).length,
          `${method} ${path}: no responses`,
        );
      }
    }
    const expected = [
      'POST /v1/tasks',
      'GET /v1/submissions/{idempotencyKey}',
      'PUT /v1/tasks/{taskId}',
      'GET /v1/tasks/{taskId}',
      'GET /v1/tasks',
      'DELETE /v1/tasks/{taskId}',
      'GET /v1/tracks',
      'GET /v1/assets/{assetId}',
      'GET /v1/provider',
      'GET /v1/tasks/{taskId}/events',
      'GET /v1/events',
      'POST /webhooks/music/{kind}',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
    ];
    for (const route of expected) assert.ok(documented.has(route), `${route} is not in the document`);
    // Each JSON answer points at a named schema of the contract.
    const taskAnswer = document.paths['/v1/tasks/{taskId}'].get.responses['200'].content['application/json'];
    assert.equal(taskAnswer.schema.$ref, '#/components/schemas/TaskView');
    assert.ok(document.components.schemas.Error);
  });

  it('serves interactive docs at /docs', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /text\/html/);
  });

  it('answers a view with the public fields only: internals never leave, whatever the workflow holds', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/tasks/leaky' });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.seenBodies, undefined);
    assert.deepEqual(Object.keys(body.receipts[0]).sort(), ['callbackType', 'duplicate', 'receivedAt']);
    assert.ok(taskView.safeParse(body).success);
  });

  it('answers 500 (and sends nothing of it) when a view breaks its declared schema', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/tasks/broken' });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(response.json(), {
      error: 'internal_error',
      message: 'internal error; see the server log',
    });
  });

  it('maps each domain error to its status, with the stable code and its public details', async () => {
    const cases = [
      { method: 'GET', url: '/v1/tasks/missing', status: 404, error: 'task_not_found' },
      {
        method: 'PUT',
        url: '/v1/tasks/lyrics-task',
        payload: { kind: 'music' },
        status: 409,
        error: 'kind_mismatch',
      },
      { method: 'DELETE', url: '/v1/tasks/done', status: 409, error: 'task_already_finished' },
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: { ...song, idempotencyKey: 'refused' },
        status: 429,
        error: 'provider_quota_exhausted',
      },
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: { ...song, idempotencyKey: 'late' },
        status: 503,
        error: 'submit_deadline_exceeded',
      },
    ] as const;
    for (const { status, error, ...request } of cases) {
      const response = await app.inject(request);
      assert.equal(response.statusCode, status, `${request.method} ${request.url}: ${response.body}`);
      assert.equal(response.json().error, error);
      assert.equal(typeof response.json().message, 'string');
    }
    const done = await app.inject({ method: 'DELETE', url: '/v1/tasks/done' });
    assert.deepEqual(
      { status: done.json().status, ready: done.json().ready },
      { status: 'SUCCESS', ready: true },
    );
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { ...song, idempotencyKey: 'refused' },
    });
    assert.equal(refused.json().providerCode, 429);
  });

  it('answers 202 with the task, or QUEUED with the route that follows it', async () => {
    const sent = await app.inject({ method: 'POST', url: '/v1/tasks', payload: song });
    assert.equal(sent.statusCode, 202);
    assert.equal(sent.json().taskId, 'task-1');
    const queued = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { ...song, idempotencyKey: 'queued' },
    });
    assert.equal(queued.statusCode, 202);
    assert.deepEqual(queued.json(), {
      idempotencyKey: 'queued',
      kind: 'music',
      status: 'QUEUED',
      submission: '/v1/submissions/queued',
    });
    const followed = await app.inject({ method: 'GET', url: '/v1/submissions/queued' });
    assert.equal(followed.json().attempts, 2);
  });

  it('refuses malformed requests with 400, 404, 413 and 415, before the task client is asked', async () => {
    calls.length = 0;
    const cases = [
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: { kind: 'opera', input: {} },
        status: 400,
        error: 'invalid_request',
      },
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: { kind: 'music', input: { nonsense: 1 } },
        status: 400,
        error: 'invalid_input',
      },
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: '{"kind":',
        headers: { 'content-type': 'application/json' },
        status: 400,
        error: 'invalid_json',
      },
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: '<kind>music</kind>',
        headers: { 'content-type': 'application/xml' },
        status: 415,
        error: 'unsupported_media_type',
      },
      {
        method: 'POST',
        url: '/v1/tasks',
        payload: { ...song, input: { ...song.input, prompt: 'x'.repeat(2_000_000) } },
        status: 413,
        error: 'payload_too_large',
      },
      {
        method: 'PUT',
        url: '/v1/tasks/has%20space',
        payload: { kind: 'music' },
        status: 400,
        error: 'invalid_request',
      },
      { method: 'GET', url: '/v1/tasks?limit=0', status: 400, error: 'invalid_request' },
      { method: 'GET', url: "/v1/tasks?status=SUCCESS'%20OR%201=1", status: 400, error: 'invalid_request' },
      { method: 'GET', url: '/v1/submissions/a%20b', status: 400, error: 'invalid_request' },
      { method: 'GET', url: '/v1/nothing-here', status: 404, error: 'not_found' },
      {
        method: 'POST',
        url: '/webhooks/music/music',
        payload: { task_id: 'x' },
        status: 401,
        error: 'unauthorized',
      },
    ] as const;
    for (const { status, error, ...request } of cases) {
      const response = await app.inject(request);
      assert.equal(
        response.statusCode,
        status,
        `${request.method} ${request.url}: ${response.body.slice(0, 300)}`,
      );
      assert.equal(response.json().error, error, `${request.method} ${request.url}`);
    }
    assert.deepEqual(calls, []);
  });

  it('hands a signed callback to the task client and acknowledges it as declared', async () => {
    calls.length = 0;
    const url = new URL(callbackUrlFor('http://x', 'music', config.webhookSecret!, submissionNonce('k1')));
    const response = await app.inject({
      method: 'POST',
      url: `${url.pathname}${url.search}`,
      payload: { code: 200, msg: 'ok', data: { callbackType: 'text', task_id: 'task-9', data: [] } },
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { status: 'accepted', taskId: 'task-9' });
    assert.deepEqual(calls, ['deliverToTracked']);
  });

  it('needs the bearer token on /v1 with API_TOKEN, and says so in the document', async () => {
    const guarded = await appWith({ API_TOKEN: 'sesame' });
    try {
      const refused = await guarded.app.inject({ method: 'GET', url: '/v1/tasks/task-1' });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.json().error, 'unauthorized');
      const wrong = await guarded.app.inject({
        method: 'GET',
        url: '/v1/tasks/task-1',
        headers: { authorization: 'Bearer open' },
      });
      assert.equal(wrong.statusCode, 401);
      const allowed = await guarded.app.inject({
        method: 'GET',
        url: '/v1/tasks/task-1',
        headers: { authorization: 'Bearer sesame' },
      });
      assert.equal(allowed.statusCode, 200);
      assert.equal((await guarded.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      const document = (await guarded.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      assert.deepEqual(document.paths['/v1/tasks/{taskId}'].get.security, [{ apiToken: [] }]);
      assert.equal(document.paths['/healthz'].get.security, undefined);
    } finally {
      await guarded.app.close();
    }
  });
});
