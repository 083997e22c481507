import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import assert from 'node:assert/strict';
import { KIND_ROUTES, type TaskKind } from '../../src/provider/kinds.ts';
import { SAMPLE_INPUTS } from '../support/inputs.ts';

export { SAMPLE_INPUTS };
import { buildSimulator, type SimulatorOptions } from '../../src/simulator/app.ts';

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** A simulator listening on 127.0.0.1:0, with typed shortcuts to its routes. */
export async function startSimulator(options: SimulatorOptions = {}) {
  const app = await buildSimulator({ rateLimit: false, seed: 1, ...options });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const base = `http://127.0.0.1:${address.port}`;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    key: string | null = 'test-key',
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : null,
    };
  }

  return {
    app,
    base,
    call,
    /** POSTs a kind's sample input (overridable) with the given callback URL. */
    submit: (kind: TaskKind, callBackUrl: string, overrides: Record<string, unknown> = {}) =>
      call('POST', KIND_ROUTES[kind].submit, { ...SAMPLE_INPUTS[kind], callBackUrl, ...overrides }),
    /** Submits and returns the new task id, failing the test on anything but success. */
    async create(
      kind: TaskKind,
      callBackUrl: string,
      overrides: Record<string, unknown> = {},
    ): Promise<string> {
      const answer = await this.submit(kind, callBackUrl, overrides);
      assert.equal(answer.body.code, 200, JSON.stringify(answer.body));
      return answer.body.data.taskId as string;
    },
    query: (kind: TaskKind, taskId: string) => call('GET', `${KIND_ROUTES[kind].query}?taskId=${taskId}`),
    control: async (method: string, path: string, body?: unknown) =>
      (await call(method, `/__sim${path}`, body, null)).body,
    truth: async (taskId: string) => (await call('GET', `/__sim/tasks/${taskId}`, undefined, null)).body,
    advance: async (taskId: string) =>
      (await call('POST', `/__sim/tasks/${taskId}/advance`, undefined, null)).body,
    close: () => app.close(),
  };
}

export type SimulatorUnderTest = Awaited<ReturnType<typeof startSimulator>>;

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 3000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

/** The provider's published examples, kept with the tests. */
const EXAMPLES_DIR = resolve(import.meta.dirname, '../fixtures/provider-examples');

export function example(name: string): any {
  return JSON.parse(readFileSync(resolve(EXAMPLES_DIR, `${name}.json`), 'utf8'));
}

/**
 * Asserts `actual` has the field names and nesting of `expected` (values may differ). Arrays are
 * compared by their first element. `extraKeysAt` lists paths where more keys are allowed.
 */
export function assertShape(
  actual: unknown,
  expected: unknown,
  extraKeysAt: string[] = [],
  path = '$',
): void {
  if (expected === null || typeof expected !== 'object') return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} should be an array`);
    if (expected.length && actual.length) assertShape(actual[0], expected[0], extraKeysAt, `${path}[0]`);
    return;
  }
  assert.ok(
    actual !== null && typeof actual === 'object' && !Array.isArray(actual),
    `${path} should be an object`,
  );
  const actualKeys = Object.keys(actual).sort();
  const expectedKeys = Object.keys(expected).sort();
  if (extraKeysAt.includes(path)) {
    for (const key of expectedKeys) assert.ok(actualKeys.includes(key), `${path}.${key} is missing`);
  } else {
    assert.deepEqual(actualKeys, expectedKeys, `keys of ${path}`);
  }
  for (const key of expectedKeys) {
    assertShape(
      (actual as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      extraKeysAt,
      `${path}.${key}`,
    );
  }
}
