/**
 * Oversized and malformed callbacks over real HTTP: each is a clear 400 (never a 5xx the provider
 * would retry), starts nothing, and what an accepted one leaves in history stays small.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { FakeProvider } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { assertJsonBounds } from '../../src/webhook/boundedJson.ts';

describe('security: the callback bounds scanner', () => {
  it('counts nesting outside strings only, escapes included, and measures every string', () => {
    const quoted = JSON.stringify({ a: `x"${'['.repeat(100)}\\"${'{'.repeat(100)}` });
    assert.doesNotThrow(() => assertJsonBounds(quoted));
    assert.throws(() => assertJsonBounds(`${'['.repeat(17)}${']'.repeat(17)}`), /deeper than 16/);
    assert.doesNotThrow(() => assertJsonBounds(`${'['.repeat(16)}${']'.repeat(16)}`));
    assert.throws(() => assertJsonBounds(JSON.stringify({ ['k'.repeat(40_000)]: 1 })), /over 32768/);
    assert.throws(() => assertJsonBounds(`{"a":"${'z'.repeat(40_000)}`), /over 32768/, 'unterminated, too');
  });
});

describe('security: callback bodies are bounded', () => {
  const provider = new FakeProvider();
  let stack: Stack;

  before(async () => {
    stack = await startStack({ provider, env: { POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' } });
  });
  after(() => stack.close());

  const started = async (taskId: string) => {
    try {
      await stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  };

  it('answers 400 to a body nested 100,000 deep (inside the size limit)', async () => {
    const deep = `{"task_id":"deep1","callbackType":"text","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const answer = await stack.postCallback('music', deep);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'callback_too_deep');
    assert.equal(await started('deep1'), false);
  });

  it('answers 400 to task ids the provider could not have issued, and starts no workflow', async () => {
    for (const taskId of ['x'.repeat(2_000), '../../x', 'a/b', 'with space', '..']) {
      const answer = await stack.postCallback('music', { task_id: taskId, callbackType: 'text', data: [] });
      assert.equal(answer.status, 400, `${taskId.slice(0, 20)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, 'invalid_task_id');
    }
    assert.equal(await started('../../x'), false);
  });

  it('answers 400 to a 200,000-character field', async () => {
    const answer = await stack.postCallback('music', {
      task_id: 'long1',
      callbackType: 'text',
      data: [{ id: 'a', prompt: 'p'.repeat(200_000) }],
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'callback_field_too_long');
    assert.equal(await started('long1'), false);
  });

  it('signals only what the workflow reads: an accepted text callback adds a small event to history', async () => {
    const taskId = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    const answer = await stack.postCallback('music', {
      code: 200,
      msg: 'All generated successfully.',
      data: {
        task_id: taskId,
        callbackType: 'text',
        data: [{ id: 'a', title: 'T', prompt: 'p'.repeat(30_000), tags: 't'.repeat(30_000) }],
      },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await stack.waitForTask(taskId, (task) => task.status === 'TEXT_SUCCESS');
    const history = await stack.client.workflow.getHandle(musicTaskWorkflowId(taskId)).fetchHistory();
    const signalled = (history.events ?? []).filter(
      (event) => event.workflowExecutionSignaledEventAttributes,
    );
    assert.equal(signalled.length, 1);
    const bytes = (signalled[0]!.workflowExecutionSignaledEventAttributes!.input?.payloads ?? []).reduce(
      (sum, payload) => sum + (payload.data?.length ?? 0),
      0,
    );
    assert.ok(bytes < 1_024, `the signal carries ${bytes} bytes`);
    await stack.api('DELETE', `/v1/tasks/${taskId}`);
  });
});
