import { isFailureStatus, progressRank, type TaskKind } from '../provider/kinds.ts';
import { KIND_TIMELINES, type Phase } from '../provider/timings.ts';
import type { TaskView } from '../workflows/state.ts';

const BAR_WIDTH = 20;

/** A task the CLI need not watch any more. */
export function isFinal(view: Pick<TaskView, 'status' | 'ready' | 'error'>): boolean {
  return (
    view.ready ||
    isFailureStatus(view.status) ||
    view.status === 'TIMED_OUT' ||
    view.status === 'CANCELLED' ||
    (view.status === 'SUCCESS' && !!view.error)
  );
}

function formatSeconds(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  return whole >= 60 ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`;
}

/** Each kind's phases and when they come, as the service says its provider runs them. */
export type Timelines = Readonly<Record<TaskKind, readonly Phase[]>>;

/** Share of the provider's typical timeline done, and the typical seconds still to go. */
export function estimate(
  kind: TaskKind,
  status: string,
  elapsedSeconds: number,
  timelines: Timelines = KIND_TIMELINES,
) {
  const timeline = timelines[kind];
  const total = (timeline.at(-1)?.atMs ?? 60_000) / 1000;
  const reached = timeline.filter((phase) => progressRank(phase.status) <= progressRank(status)).at(-1);
  const floor = (reached?.atMs ?? 0) / 1000;
  const next = timeline.find((phase) => progressRank(phase.status) > progressRank(status));
  const ceiling = (next?.atMs ?? total * 1000) / 1000;
  // Within a phase, creep towards the next one but never claim it.
  const within = Math.min(Math.max(elapsedSeconds, floor), ceiling * 0.98);
  return {
    fraction: Math.min(1, within / total),
    remainingSeconds: Math.max(0, total - Math.max(elapsedSeconds, floor)),
  };
}

/** `  waiting for the provider budget (poll, 12s)` while a call is queued behind the fleet's budget. */
function waitingForBudget(view: Pick<TaskView, 'providerCall'>, now: number): string {
  const call = view.providerCall;
  if (!call) return '';
  const waited = (now - Date.parse(call.queuedAt)) / 1000;
  // A call that runs at once is not worth a word.
  return waited < 1 ? '' : `  waiting for the provider budget (${call.purpose}, ${formatSeconds(waited)})`;
}

/** One line of `watch`: bar, phase, receipts, polls, time since submit, ETA. */
export function renderProgress(
  view: TaskView,
  now = Date.now(),
  timelines: Timelines = KIND_TIMELINES,
): string {
  const elapsed = (now - Date.parse(view.submittedAt)) / 1000;
  const { fraction, remainingSeconds } = estimate(view.kind, view.status, elapsed, timelines);
  const done = view.ready ? 1 : isFinal(view) ? fraction : Math.min(fraction, 0.99);
  const filled = Math.round(done * BAR_WIDTH);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
  const counts = view.receiptCounts;
  const state = view.ready
    ? 'ready'
    : isFinal(view)
      ? `${view.status}${view.error ? ` ${view.error.code}: ${view.error.message}` : ''}`
      : view.notice
        ? `${view.status}  ${view.notice.code}: ${view.notice.message}`
        : `${view.status}  ETA ~${formatSeconds(remainingSeconds)}${waitingForBudget(view, now)}`;
  return [
    view.taskId.padEnd(14),
    view.kind.padEnd(13),
    `[${bar}]`,
    `callbacks ${counts.total}${counts.duplicates ? ` (${counts.duplicates} dup)` : ''}`,
    `polls ${view.pollCount}`,
    formatSeconds(elapsed).padStart(6),
    state,
  ].join('  ');
}
