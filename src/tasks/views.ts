/** Task views built outside the workflow: a list row, the empty view, the assets' URLs. */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import type { TaskSummary, TaskView } from '../contract/schemas.ts';
import type { TaskView as WorkflowView } from '../workflows/state.ts';
import { isTaskKind } from '../provider/kinds.ts';
import {
  MusicTaskKindKey,
  MusicTaskReadyKey,
  MusicTaskStatusKey,
  taskIdOf,
} from '../workflows/definitions.ts';

/** What the search attributes and the memo say of a task (a row of `GET /v1/tasks`). */
export function summaryOf(execution: Omit<WorkflowExecutionInfo, 'raw'>): TaskSummary {
  const attributes = execution.typedSearchAttributes;
  const title = execution.memo?.title;
  return {
    taskId: taskIdOf(execution.workflowId),
    workflowId: execution.workflowId,
    kind: attributes.get(MusicTaskKindKey) ?? 'unknown',
    status: attributes.get(MusicTaskStatusKey) ?? 'PENDING',
    ready: attributes.get(MusicTaskReadyKey) ?? false,
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
    ...(typeof title === 'string' ? { title } : {}),
  };
}

/** A task view from its summary alone, when the workflow cannot answer for itself. */
export function emptyView(summary: TaskSummary): WorkflowView {
  return {
    taskId: summary.taskId,
    workflowId: summary.workflowId,
    kind: isTaskKind(summary.kind) ? summary.kind : 'music',
    status: summary.status,
    ready: summary.ready,
    submittedAt: summary.startedAt,
    updatedAt: summary.closedAt ?? summary.startedAt,
    assets: [],
    receipts: [],
    receiptCounts: { total: 0, duplicates: 0, byPhase: {} },
    polls: [],
    pollCount: 0,
  };
}

/** Where the API serves a stored copy, relative to the API's base. */
export const assetUrl = (assetId: string) => `/v1/assets/${encodeURIComponent(assetId)}`;

/** Each stored file with the URL it is served at (`GET /v1/assets/:assetId`). */
export function withAssetUrls(view: WorkflowView): TaskView {
  return { ...view, assets: view.assets.map((asset) => ({ ...asset, url: assetUrl(asset.id) })) };
}
