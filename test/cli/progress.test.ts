import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderProgress } from '../../src/cli/progress.ts';
import type { TaskView } from '../../src/workflows/state.ts';

const view = (extra: Partial<TaskView> = {}): TaskView => ({
  taskId: 'abc123',
  workflowId: 'music-task-abc123',
  kind: 'music',
  status: 'PENDING',
  ready: false,
  submittedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  assets: [],
  receipts: [],
  receiptCounts: { total: 0, duplicates: 0, byPhase: {} },
  polls: [],
  pollCount: 0,
  ...extra,
});

test('watch says when a task waits for the provider budget, and for how long', () => {
  const now = Date.parse('2026-01-01T00:01:00.000Z');
  const waiting = view({ providerCall: { purpose: 'poll', queuedAt: '2026-01-01T00:00:48.000Z' } });
  assert.match(renderProgress(waiting, now), /waiting for the provider budget \(poll, 12s\)/);
  // A call that the budget lets through at once is not news.
  const quick = view({ providerCall: { purpose: 'confirm', queuedAt: '2026-01-01T00:00:59.800Z' } });
  assert.doesNotMatch(renderProgress(quick, now), /waiting/);
  assert.doesNotMatch(renderProgress(view(), now), /waiting/);
});
