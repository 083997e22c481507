import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TASK_KINDS } from '../../src/provider/kinds.ts';
import { type FaultConfig } from '../../src/simulator/app.ts';
import { NO_FAULTS, planFaults } from '../../src/simulator/faults.ts';
import { decisionRandom, taskIdFor } from '../../src/simulator/seeded.ts';
import { startSimulator } from './simulator-harness.ts';

const CALLBACK = 'http://127.0.0.1:9/webhooks/music?token=t';
const HALF: FaultConfig = {
  ...NO_FAULTS,
  dropCallback: 0.5,
  duplicateCallback: 0.5,
  delayCallbackMs: 5000,
  reorderCallbacks: 0.5,
  wrappedCallbacks: 0.5,
  snakeCaseQueries: 0.5,
  numericSuccessFlag: 0.5,
  epochTimestamps: 0.5,
  transientSubmitError: 0.3,
  terminalFailure: 0.5,
  prematureComplete: 0.5,
  forgedCallback: 0.5,
};

/** Submits one task of every kind (twice) and returns what came back and what was planned. */
async function run(seed: number) {
  const sim = await startSimulator({ seed, faults: HALF });
  try {
    const answers = [];
    for (const kind of [...TASK_KINDS, ...TASK_KINDS]) {
      const answer = await sim.submit(
        kind,
        CALLBACK,
        kind === 'cover-art' ? { taskId: `${answers.length}` } : {},
      );
      answers.push(answer.body.code === 200 ? answer.body.data.taskId : answer.body.code);
    }
    const stats = await sim.control('GET', '/stats');
    const plans = Object.fromEntries(
      Object.entries(stats.tasks).map(([id, task]: [string, any]) => [id, task.faults]),
    );
    return { answers, plans };
  } finally {
    await sim.close();
  }
}

test('the same seed and submissions give the same task ids, transient errors and fault plans', async () => {
  const first = await run(42);
  const second = await run(42);
  assert.deepEqual(second, first);
  assert.ok(
    first.answers.some((answer) => typeof answer === 'number'),
    'some submits met a transient error',
  );
  const other = await run(43);
  assert.notDeepEqual(other.answers, first.answers);
});

test('a reset or a PUT of the same seed replays the id sequence', async () => {
  const sim = await startSimulator({ seed: 7 });
  try {
    const ids = [await sim.create('lyrics', CALLBACK), await sim.create('wav', CALLBACK)];
    assert.deepEqual(ids, [taskIdFor(7, 0), taskIdFor(7, 1)]);
    await sim.control('POST', '/reset');
    assert.equal(await sim.create('lyrics', CALLBACK), ids[0]);
    await sim.control('PUT', '/faults', { seed: 8 });
    assert.equal(await sim.create('lyrics', CALLBACK), taskIdFor(8, 0));
  } finally {
    await sim.close();
  }
});

test('each decision has its own stream: plans do not depend on what else was drawn', () => {
  assert.equal(decisionRandom(1, 'task', 'a')(), decisionRandom(1, 'task', 'a')());
  assert.notEqual(decisionRandom(1, 'task', 'a')(), decisionRandom(1, 'task', 'b')());
  assert.notEqual(decisionRandom(1, 'task', 'a')(), decisionRandom(2, 'task', 'a')());
  // Switching one fault on leaves the other decisions of the task as they were.
  const base = planFaults({ ...NO_FAULTS, dropCallback: 0.5 }, 3, 'abc', 'music');
  const more = planFaults({ ...NO_FAULTS, dropCallback: 0.5, forgedCallback: 1 }, 3, 'abc', 'music');
  assert.deepEqual(more.callbacks, base.callbacks);
  assert.equal(more.forgedCallback, true);
});

test('silentTask drops every callback of a task in one draw, for about that share of tasks', () => {
  const ids = Array.from({ length: 400 }, (_, index) => `task-${index}`);
  const plans = ids.map((id) => planFaults({ ...NO_FAULTS, silentTask: 0.5 }, 9, id, 'music'));
  const silent = plans.filter((plan) => Object.values(plan.callbacks).every((phase) => phase.drop));
  const loud = plans.filter((plan) => Object.values(plan.callbacks).every((phase) => !phase.drop));
  assert.equal(silent.length + loud.length, ids.length, 'a task is silent as a whole or not at all');
  assert.ok(silent.length > 150 && silent.length < 250, `${silent.length} of 400 silent`);
});
