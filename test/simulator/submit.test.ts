import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KIND_ROUTES, TASK_KINDS } from '../../src/provider/kinds.ts';
import {
  assertShape,
  example,
  SAMPLE_INPUTS,
  startSimulator,
  type SimulatorUnderTest,
} from './simulator-harness.ts';

const CALLBACK = 'http://127.0.0.1:9/webhooks/music?token=t';

describe('submit and query routes', () => {
  let sim: SimulatorUnderTest;
  before(async () => {
    sim = await startSimulator({ apiKey: 'test-key' });
  });
  after(() => sim.close());

  for (const kind of TASK_KINDS) {
    test(`${KIND_ROUTES[kind].submit} answers the success envelope with a 12-hex task id`, async () => {
      const overrides = kind === 'cover-art' ? { taskId: 'source-of-cover' } : {};
      const answer = await sim.submit(kind, CALLBACK, overrides);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.code, 200);
      assert.equal(answer.body.msg, 'success');
      assert.match(answer.body.data.taskId, /^[0-9a-f]{12}$/);
      assertShape(answer.body, example('submit-response'));

      const query = await sim.query(kind, answer.body.data.taskId);
      assert.equal(query.body.code, 200);
      assert.equal(query.body.data.taskId, answer.body.data.taskId);
      // `param` echoes the submitted body as a JSON string, the callback URL's token redacted.
      assert.deepEqual(JSON.parse(query.body.data.param), {
        ...SAMPLE_INPUTS[kind],
        ...overrides,
        callBackUrl: CALLBACK.replace('token=t', 'token=redacted'),
      });
    });
  }

  test('a missing or wrong bearer key is 401, as HTTP status and envelope code', async () => {
    for (const key of [null, 'wrong-key', '']) {
      const answer = await sim.call(
        'POST',
        '/suno/generate-lyrics',
        { prompt: 'x', callBackUrl: CALLBACK },
        key,
      );
      assert.equal(answer.status, 401);
      assert.equal(answer.body.code, 401);
      assert.equal(answer.body.data, null);
    }
    const query = await sim.call('GET', '/suno/query/task?taskId=abc', undefined, 'wrong-key');
    assert.equal(query.status, 401);
  });

  test('without a configured key any non-empty bearer key is accepted', async () => {
    const open = await startSimulator();
    try {
      const answer = await open.call(
        'POST',
        '/suno/generate-lyrics',
        { prompt: 'x', callBackUrl: CALLBACK },
        'any',
      );
      assert.equal(answer.body.code, 200);
      assert.equal((await open.call('POST', '/suno/generate-lyrics', {}, null)).status, 401);
    } finally {
      await open.close();
    }
  });

  test('a missing required field is 400 naming the field', async () => {
    const answer = await sim.call('POST', '/suno/generate', {
      customMode: false,
      model: 'V5',
      prompt: 'a song',
      callBackUrl: CALLBACK,
    });
    assert.equal(answer.body.code, 400);
    assert.match(answer.body.msg, /instrumental/);
    const custom = await sim.submit('music', CALLBACK, { style: undefined });
    assert.equal(custom.body.code, 400);
    assert.match(custom.body.msg, /style/);
    const wav = await sim.call('POST', '/suno/wav-generate', { taskId: 'abc', callBackUrl: CALLBACK });
    assert.equal(wav.body.code, 400);
    assert.match(wav.body.msg, /audioId/);
  });

  test('a missing callBackUrl is 400 on every submit route', async () => {
    for (const kind of TASK_KINDS) {
      const answer = await sim.submit(kind, CALLBACK, { callBackUrl: undefined });
      assert.equal(answer.body.code, 400, kind);
      assert.match(answer.body.msg, /callBackUrl/);
    }
    const notUrl = await sim.submit('lyrics', 'not a url');
    assert.equal(notUrl.body.code, 400);
  });

  test('text over the documented limits is 413', async () => {
    const nonCustom = await sim.submit('music', CALLBACK, { customMode: false, prompt: 'x'.repeat(501) });
    assert.equal(nonCustom.body.code, 413);
    assert.match(nonCustom.body.msg, /prompt/);
    const v4Style = await sim.submit('music', CALLBACK, { model: 'V4', style: 's'.repeat(201) });
    assert.equal(v4Style.body.code, 413);
    assert.match(v4Style.body.msg, /style/);
    const fits = await sim.submit('music', CALLBACK, {
      model: 'V5',
      prompt: 'p'.repeat(5000),
      title: 't'.repeat(100),
    });
    assert.equal(fits.body.code, 200);
  });

  test('an unknown task, or a task asked for on another kind’s route, is 404 Task not found', async () => {
    const unknown = await sim.call('GET', '/suno/query/task?taskId=000000000000');
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.body, { code: 404, msg: 'Task not found', data: null });
    assert.deepEqual(unknown.body, example('error-unknown-task'));
    const lyricsId = await sim.create('lyrics', CALLBACK);
    assert.equal((await sim.call('GET', `/suno/query/task?taskId=${lyricsId}`)).body.code, 404);
    assert.equal((await sim.query('lyrics', lyricsId)).body.code, 200);
    assert.equal((await sim.call('GET', '/suno/query/task')).body.code, 400);
  });

  test('cover art is made once per source task', async () => {
    const first = await sim.create('cover-art', CALLBACK, { taskId: 'once-only' });
    const again = await sim.submit('cover-art', CALLBACK, { taskId: 'once-only' });
    assert.equal(again.body.code, 400);
    assert.equal(again.body.data.taskId, first);
  });

  test('malformed JSON gets the provider envelope, not a framework error', async () => {
    const response = await fetch(`${sim.base}/suno/generate`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-key', 'content-type': 'application/json' },
      body: '{"customMode":',
    });
    const body = (await response.json()) as { code: number; msg: string; data: unknown };
    assert.equal(body.code, 400);
    assert.equal(body.data, null);
  });
});
