/**
 * The workflows' long timers at their real defaults (POLL_INTERVAL 30s, POLL_MAX_INTERVAL 5m,
 * TASK_DEADLINE 30m, SUBMIT_DEADLINE 30m), on the time-skipping test server: minutes of workflow
 * time pass in about a second, so durations are asserted to the jitter the workflow adds by
 * design, not to a wall clock's tolerance.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.ts';
import { openAssetStore } from '../../src/activities/openAssetStore.ts';
import { loadConfig } from '../../src/config.ts';
import { ProviderError } from '../../src/provider/errors.ts';
import {
  MUSIC_TASK_WORKFLOW,
  musicTaskWorkflowId,
  statusQuery,
  SUBMISSION_WORKFLOW,
  submissionWorkflowId,
  type MusicTaskInput,
  type SubmissionInput,
} from '../../src/workflows/definitions.ts';
import { SUBMIT_DEADLINE_EXCEEDED } from '../../src/workflows/definitions.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { FakeProvider } from '../support/fakeProvider.ts';
import { scratchDir } from '../support/temporal.ts';
import { startTimeSkipping, timeSkippingWorker } from '../support/timeSkipping.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
/** The defaults of the configuration table, read from the schema itself. */
const defaults = loadConfig({ DATA_DIR: scratchDir('timers'), LOG_LEVEL: 'silent' });

describe('long timers at their defaults (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const provider = new FakeProvider();
  const taskQueue = `timers-${randomUUID().slice(0, 8)}`;

  before(async () => {
    env = await startTimeSkipping();
    const activities = createActivities({
      provider,
      assets: await openAssetStore(defaults),
      callbackUrl: (kind, nonce) => `http://127.0.0.1:1/webhooks/music/${kind}?nonce=${nonce}`,
    });
    worker = await timeSkippingWorker(env, taskQueue, activities);
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  /** A musicTask on this worker's queue (provider calls and downloads there too), as a submission starts it. */
  async function track(taskId: string) {
    const input: MusicTaskInput = {
      taskId,
      kind: 'music',
      timing: defaults.timing,
      submittedAt: new Date(await env.currentTimeMs()).toISOString(),
    };
    return env.client.workflow.start(MUSIC_TASK_WORKFLOW, {
      workflowId: musicTaskWorkflowId(taskId),
      taskQueue,
      args: [input],
    });
  }

  it('backs off from POLL_INTERVAL, doubling, up to POLL_MAX_INTERVAL', async () => {
    assert.deepEqual(
      [defaults.timing.pollIntervalMs, defaults.timing.pollMaxIntervalMs],
      [30 * SECOND, 5 * MINUTE],
    );
    const taskId = await provider.submit('music');
    const handle = await track(taskId);
    // 30 s + 1 + 2 + 4 + 5 + 5 min, and jitter: all six polls are in within 20 minutes.
    await env.sleep(20 * MINUTE);
    const view: TaskView = await handle.query(statusQuery);
    assert.ok(view.pollCount >= 6, `six polls in 20 minutes: ${view.pollCount}`);
    const times = [Date.parse(view.submittedAt), ...view.polls.map((poll) => Date.parse(poll.at))];
    const gaps = times.slice(1, 7).map((time, index) => time - times[index]!);
    const expected = [30 * SECOND, MINUTE, 2 * MINUTE, 4 * MINUTE, 5 * MINUTE, 5 * MINUTE];
    gaps.forEach((gap, index) => {
      const wait = expected[index]!;
      // ±10 % jitter by design; the one second above it is the test server's timer grain.
      assert.ok(
        gap >= wait * 0.9 && gap <= wait * 1.1 + SECOND,
        `wait ${index + 1} is ${wait / SECOND} s ±10 %: ${gaps.map((ms) => ms / SECOND).join(', ')} s`,
      );
    });
    assert.ok(view.polls.every((poll) => poll.reason === 'timer'));
    assert.equal(provider.queryCount(taskId), view.pollCount, 'one provider query per poll');
    await handle.cancel();
  });

  it('times a silent task out at TASK_DEADLINE, to the second', async () => {
    assert.equal(defaults.timing.taskDeadlineMs, 30 * MINUTE);
    const taskId = await provider.submit('music');
    const handle = await track(taskId);
    const view = await handle.result();
    assert.equal(view.status, 'TIMED_OUT');
    assert.equal(view.ready, false);
    assert.equal(view.error?.code, 'TIMED_OUT');
    const { closeTime, startTime } = await handle.describe();
    const lasted = closeTime!.getTime() - Date.parse(view.submittedAt);
    assert.ok(lasted >= 30 * MINUTE && lasted < 30 * MINUTE + 2 * SECOND, `closed after ${lasted} ms`);
    assert.ok(startTime.getTime() <= Date.parse(view.submittedAt) + SECOND);
    // Backing off to 5 minutes, 30 minutes hold 7 to 9 polls, the last one before the deadline.
    assert.ok(view.pollCount >= 7 && view.pollCount <= 9, `${view.pollCount} polls`);
    assert.ok(Date.parse(view.polls.at(-1)!.at) < Date.parse(view.submittedAt) + 30 * MINUTE);
  });

  it('fails a submission the provider keeps refusing with a rate limit at SUBMIT_DEADLINE, to the retry', async () => {
    assert.equal(defaults.submitDeadlineMs, 30 * MINUTE);
    // Every attempt meets a rate limit: back-pressure, retried until the deadline.
    let attempts = 0;
    const submit = provider.submit.bind(provider);
    provider.submit = () => {
      attempts += 1;
      return Promise.reject(new ProviderError('ProviderRateLimited', 430, 'rate limited'));
    };
    try {
      const key = `deadline-${randomUUID().slice(0, 8)}`;
      const queuedAt = new Date(await env.currentTimeMs()).toISOString();
      const input: SubmissionInput = {
        kind: 'lyrics',
        input: { prompt: 'snow' },
        queuedAt,
        submitDeadlineMs: defaults.submitDeadlineMs,
        tracking: { timing: defaults.timing },
      };
      const handle = await env.client.workflow.start(SUBMISSION_WORKFLOW, {
        workflowId: submissionWorkflowId(key),
        taskQueue,
        args: [input],
      });
      const failure = await handle.result().then(
        () => assert.fail('the submission should fail'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.ok(failure.cause instanceof ApplicationFailure);
      assert.equal(failure.cause.type, SUBMIT_DEADLINE_EXCEEDED);
      assert.match(
        failure.cause.message,
        /SUBMIT_DEADLINE \(1800000 ms\); last answer: .*same idempotencyKey/,
      );
      const { closeTime } = await handle.describe();
      // Temporal gives up as soon as the next attempt would start past the deadline: within one
      // retry delay before it, never after.
      const lasted = closeTime!.getTime() - Date.parse(queuedAt);
      assert.ok(
        lasted > 30 * MINUTE - 2 * SECOND - SECOND && lasted <= 30 * MINUTE + SECOND,
        `failed after ${lasted} ms`,
      );
      // A rate limit without Retry-After is retried after 2 s (src/provider/errors.ts), not sooner.
      const spaced = defaults.submitDeadlineMs / (2 * SECOND);
      assert.ok(
        attempts <= spaced + 1 && attempts >= spaced * 0.9,
        `${attempts} attempts, ${spaced} at most`,
      );
    } finally {
      provider.submit = submit;
    }
  });
});
