import type { TaskView } from '../workflows/state.ts';
import { ApiError, type StreamedEvent, type TasksApi } from './apiClient.ts';
import { isFinal, renderProgress } from './progress.ts';

export interface WatchOptions {
  /** One JSON line per change instead of progress bars. */
  json?: boolean;
  /** How often a terminal redraws (the clock and ETA move), and how often the polling fallback asks. */
  intervalMs?: number;
  /** How long an unreachable API is waited for before giving up (default 5 minutes). */
  unreachablePatienceMs?: number;
}

/** Events after which the view's exact words matter (an error, a notice): read the view once more. */
const REREAD = new Set(['ready', 'failed', 'timed_out', 'cancelled', 'assets']);

/** The view after one event: each event says where the task stands. */
export function applyEvent(view: TaskView, event: StreamedEvent): TaskView {
  const next: TaskView = {
    ...view,
    status: event.status,
    ready: event.ready,
    updatedAt: event.at,
    pollCount: event.polls,
    receiptCounts: { ...view.receiptCounts, total: event.callbacks, duplicates: event.duplicates },
  };
  if (event.providerCall) next.providerCall = event.providerCall;
  else delete next.providerCall;
  if (event.error && event.type !== 'poll') next.error = event.error;
  return next;
}

/**
 * Shows every task's progress until all are settled: redrawn in place on a TTY, one line per change
 * otherwise (logs and pipes stay readable). Each task's events come from its stream
 * (`GET /v1/tasks/:taskId/events`), resumed with its Last-Event-ID when the API restarts; an API
 * without the stream is polled instead. Used by `music-tasks watch` and the demo.
 */
export async function watchTasks(
  api: TasksApi,
  taskIds: string[],
  options: WatchOptions = {},
): Promise<TaskView[]> {
  const json = options.json ?? false;
  const tty = process.stdout.isTTY && !json;
  const intervalMs = options.intervalMs ?? 1000;
  const patienceMs = options.unreachablePatienceMs ?? 300_000;
  // The service's pace (the simulator's time scale): the bar and ETA follow what really runs.
  const { timelines } = await api.pace();
  const views = new Map<string, TaskView>();
  const last = new Map<string, string>();
  let drawn = 0;
  let unreachableSince: number | undefined;
  let polling = false;

  const draw = () => {
    const shown = taskIds.map((taskId) => views.get(taskId)).filter((view): view is TaskView => !!view);
    if (tty) {
      if (drawn) process.stdout.write(`\x1b[${drawn}F`);
      for (const view of shown)
        process.stdout.write(`\x1b[2K${renderProgress(view, Date.now(), timelines)}\n`);
      drawn = shown.length;
      return;
    }
    for (const view of shown) {
      const key = `${view.status}/${view.ready}/${view.receiptCounts.total}/${view.pollCount}/${view.notice?.code}/${view.providerCall?.purpose ?? ''}`;
      if (last.get(view.taskId) === key) continue;
      last.set(view.taskId, key);
      console.log(
        json
          ? JSON.stringify({
              taskId: view.taskId,
              status: view.status,
              ready: view.ready,
              ...(view.notice ? { notice: view.notice.code } : {}),
            })
          : renderProgress(view, Date.now(), timelines),
      );
    }
  };

  /** `npm start` restarting: the tasks go on in Temporal, so wait for the API to come back. */
  const unreachable = (error: unknown) => {
    if (!(error instanceof ApiError && error.code === 'api_unreachable')) throw error;
    const now = Date.now();
    if (unreachableSince === undefined) {
      unreachableSince = now;
      console.error(`the API at ${api.baseUrl} is not answering; waiting for it (Ctrl-C stops watching)`);
      drawn = 0;
    }
    if (now - unreachableSince > patienceMs) throw error;
  };
  const reachable = () => {
    unreachableSince = undefined;
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, intervalMs));

  const readView = async (taskId: string) => {
    const view = await api.get(taskId);
    reachable();
    views.set(taskId, view);
    return view;
  };

  /** One task, from its stream until it is final. */
  const follow = async (taskId: string, abort: AbortSignal): Promise<void> => {
    let lastEventId: string | undefined;
    for (;;) {
      try {
        const view = views.get(taskId) ?? (await readView(taskId));
        if (isFinal(view)) return;
        // From its first event: a view read before the stream opened may be behind what it sends.
        const stream = await api.events(taskId, lastEventId, abort);
        reachable();
        if (stream.ended) {
          draw();
          await readView(taskId);
          return;
        }
        for await (const { id, event } of stream.events) {
          if (id !== undefined) lastEventId = id;
          if (event.type === 'gap') continue;
          views.set(taskId, applyEvent(views.get(taskId)!, event));
          const notice = event.type === 'poll' && event.error?.code === 'ProviderTaskNotFound';
          if (REREAD.has(event.type) || notice || views.get(taskId)!.notice) await readView(taskId);
          draw();
          if (isFinal(views.get(taskId)!)) return;
        }
        // The server ended the stream without a terminal event (it is shutting down): resume.
      } catch (error) {
        if (abort.aborted) return;
        if (error instanceof ApiError && error.status === 404 && error.code === 'not_found') {
          // An API without event streams: ask it every interval instead.
          polling = true;
          return;
        }
        unreachable(error);
      }
      await pause();
    }
  };

  const abort = new AbortController();
  const ticker = tty ? setInterval(draw, intervalMs) : undefined;
  try {
    for (;;) {
      try {
        await Promise.all(taskIds.map((taskId) => readView(taskId)));
        break;
      } catch (error) {
        unreachable(error);
        await pause();
      }
    }
    draw();
    await Promise.all(taskIds.map((taskId) => follow(taskId, abort.signal)));
    while (polling && !taskIds.every((taskId) => isFinal(views.get(taskId)!))) {
      try {
        await Promise.all(taskIds.map((taskId) => readView(taskId)));
        draw();
      } catch (error) {
        unreachable(error);
      }
      if (!taskIds.every((taskId) => isFinal(views.get(taskId)!))) await pause();
    }
  } finally {
    abort.abort();
    if (ticker) clearInterval(ticker);
  }
  draw();
  return taskIds.map((taskId) => views.get(taskId)!);
}
