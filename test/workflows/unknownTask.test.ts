import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { FakeProvider } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

describe('a task id the provider does not know (real Temporal, default poll timings)', () => {
  let stack: Stack;
  const provider = new FakeProvider();

  before(async () => {
    // The defaults a newcomer runs with: a first poll after 30 s would leave a wrong id alive for minutes.
    stack = await startStack({ provider, env: { POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '5m' } });
  });
  after(() => stack.close());

  it('says so in the view at the first answer and ends the task within seconds', async () => {
    const taskId = `unknown-${randomUUID().slice(0, 8)}`;
    const put = await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const warned = await stack.waitForTask(taskId, (view) => view.pollCount >= 1, 10_000);
    assert.equal(warned.status, 'PENDING');
    assert.equal(warned.notice?.code, 'ProviderTaskNotFound');
    assert.match(warned.notice.message, new RegExp(`does not know task ${taskId} \\(1 of 3 answers\\)`));
    const ended = await stack.waitForTask(taskId, (view) => view.status === 'CREATE_TASK_FAILED', 25_000);
    assert.equal(ended.error?.code, 'ProviderTaskNotFound');
    assert.match(ended.error.message, /check the id and its kind/);
    assert.equal(ended.notice, undefined, 'the error says it now');
    assert.equal(ended.pollCount, 3);
  });

  it('a task the provider knows is asked about once at once, then on the usual timer', async () => {
    const taskId = await provider.submit('music');
    await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
    const view = await stack.waitForTask(taskId, (task) => task.pollCount >= 1, 10_000);
    assert.equal(view.polls[0]?.status, 'PENDING');
    assert.equal(view.notice, undefined);
    const nextPoll = Date.parse(view.nextPollAt!) - Date.parse(view.polls[0].at);
    assert.ok(nextPoll > 20_000, `the next poll waits POLL_INTERVAL (${nextPoll} ms)`);
    // The Temporal UI shows each timer's summary rather than its sequence number.
    const history = await stack.client.workflow.getHandle(view.workflowId).fetchHistory();
    const summaries = (history.events ?? [])
      .filter((event) => event.timerStartedEventAttributes)
      .map((event) => event.userMetadata?.summary)
      .map((payload) => (payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined));
    assert.ok(summaries.length >= 1, 'the timer before the first poll at least');
    for (const summary of summaries) assert.match(summary ?? '', /^wait for a callback; poll in \d+(s|m)/);
    await stack.api('DELETE', `/v1/tasks/${taskId}`);
  });
});
