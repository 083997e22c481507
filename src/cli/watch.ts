import type { TaskView } from '../workflows/state.ts';
import { ApiError, type TasksApi } from './apiClient.ts';
import { isFinal, renderProgress } from './progress.ts';

export interface WatchOptions {
  /** One JSON line per change instead of progress bars. */
  json?: boolean;
  intervalMs?: number;
  /** How long an unreachable API is waited for before giving up (default 5 minutes). */
  unreachablePatienceMs?: number;
}

/**
 * Polls every task and shows its progress until all are settled: redrawn in place on a TTY, one
 * line per change otherwise (logs and pipes stay readable). Used by `music-tasks watch` and the demo.
 */
export async function watchTasks(
  api: TasksApi,
  taskIds: string[],
  options: WatchOptions = {},
): Promise<TaskView[]> {
  const json = options.json ?? false;
  const tty = process.stdout.isTTY && !json;
  const last = new Map<string, string>();
  // The service's pace (the simulator's time scale): the bar and ETA follow what really runs.
  const { timelines } = await api.pace();
  let drawn = 0;
  let unreachableSince: number | undefined;
  for (;;) {
    let views: TaskView[];
    try {
      views = await Promise.all(taskIds.map((taskId) => api.get(taskId)));
      unreachableSince = undefined;
    } catch (error) {
      // `npm start` restarting: the tasks go on in Temporal, so wait for the API to come back.
      if (!(error instanceof ApiError && error.code === 'api_unreachable')) throw error;
      const now = Date.now();
      if (unreachableSince === undefined) {
        unreachableSince = now;
        console.error(`the API at ${api.baseUrl} is not answering; waiting for it (Ctrl-C stops watching)`);
        drawn = 0;
      }
      if (now - unreachableSince > (options.unreachablePatienceMs ?? 300_000)) throw error;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
      continue;
    }
    if (tty) {
      if (drawn) process.stdout.write(`\x1b[${drawn}F`);
      for (const view of views)
        process.stdout.write(`\x1b[2K${renderProgress(view, Date.now(), timelines)}\n`);
      drawn = views.length;
    } else {
      for (const view of views) {
        const line = json
          ? JSON.stringify({
              taskId: view.taskId,
              status: view.status,
              ready: view.ready,
              ...(view.notice ? { notice: view.notice.code } : {}),
            })
          : renderProgress(view, Date.now(), timelines);
        const key = `${view.status}/${view.ready}/${view.receiptCounts.total}/${view.pollCount}/${view.notice?.code}/${view.providerCall?.purpose ?? ''}`;
        if (last.get(view.taskId) !== key) console.log(line);
        last.set(view.taskId, key);
      }
    }
    if (views.every(isFinal)) return views;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}
