import type { Client } from '@temporalio/client';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { isSettled, type TaskView } from '../../src/workflows/state.ts';

/** A task view that will not change any more: ready, or settled without becoming ready. */
export function isFinished(view: TaskView): boolean {
  return view.ready || (isSettled(view) && (view.status !== 'SUCCESS' || !!view.error));
}

/** Runs `work` over `items` with at most `limit` at once. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * Asks the API (`GET /v1/tasks/:id`, as any client would) until every task is finished or the time
 * is up. Returns the last view of each task; `unfinished` names the ones still going.
 */
export async function watchTasks(
  apiUrl: string,
  taskIds: readonly string[],
  timeoutMs: number,
  progress: (finished: number) => void = () => {},
): Promise<{ views: Map<string, TaskView>; unfinished: string[] }> {
  const views = new Map<string, TaskView>();
  const unfinished = new Set(taskIds);
  const deadline = Date.now() + timeoutMs;
  while (unfinished.size && Date.now() < deadline) {
    await eachLimited([...unfinished], 8, async (taskId) => {
      try {
        const response = await fetch(`${apiUrl}/v1/tasks/${taskId}`, { signal: AbortSignal.timeout(30_000) });
        if (response.status !== 200) return;
        const view = (await response.json()) as TaskView;
        views.set(taskId, view);
        if (isFinished(view)) unfinished.delete(taskId);
      } catch {
        // the server is restarting: ask again next round
      }
    });
    if (unfinished.size) {
      progress(taskIds.length - unfinished.size);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  return { views, unfinished: [...unfinished] };
}

/**
 * Waits for every task's workflow to close (one long poll each on the Temporal server: no load on
 * the service or the worker while the tasks run), then reads each view once through the API
 * (`GET /v1/tasks/:id`). For benches that measure latency: an observer asking every task's view once a
 * second would add a status query per task and second to what it measures.
 */
export async function awaitTasks(
  client: Client,
  apiUrl: string,
  taskIds: readonly string[],
  timeoutMs: number,
): Promise<{ views: Map<string, TaskView>; unfinished: string[] }> {
  const views = new Map<string, TaskView>();
  const unfinished: string[] = [];
  const timeout = AbortSignal.timeout(timeoutMs);
  await Promise.all(
    taskIds.map(async (taskId) => {
      try {
        await client.withAbortSignal(timeout, () =>
          client.workflow.getHandle(musicTaskWorkflowId(taskId)).result(),
        );
      } catch {
        // closed otherwise (failed, cancelled) or still going: the view says which
      }
      const response = await fetch(`${apiUrl}/v1/tasks/${taskId}`);
      const view = response.status === 200 ? ((await response.json()) as TaskView) : undefined;
      if (view) views.set(taskId, view);
      if (!view || !isFinished(view)) unfinished.push(taskId);
    }),
  );
  return { views, unfinished };
}
