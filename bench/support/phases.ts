/**
 * Where the time between the provider's SUCCESS and `ready` goes, read from a task's history:
 * the callback's way in, the workflow task that wakes on it and confirms, the wait for and the run of
 * the post-processing activity, and the final workflow task.
 */
import proto from '@temporalio/proto';

const { EventType } = proto.temporal.api.enums.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export const PHASES = [
  'callback in',
  'wake wait',
  'confirm ask',
  'confirm wait',
  'confirm run',
  'confirm read',
  'store wait',
  'store run',
  'finish',
] as const;
export type Phase = (typeof PHASES)[number];

export const PHASE_MEANINGS: Record<Phase, string> = {
  'callback in':
    "provider's SUCCESS → the `callback` signal in the history (simulator, webhook, signalWithStart)",
  'wake wait': 'signal → the workflow task it causes started by the worker',
  'confirm ask': 'that workflow task started → the confirming `queryProvider` scheduled (the task completed)',
  'confirm wait': '`queryProvider` scheduled → started on the provider queue (the budget, the dispatch)',
  'confirm run': '`queryProvider` started → completed (the HTTP query)',
  'confirm read': '`queryProvider` completed → `storeAssets` scheduled (a workflow task)',
  'store wait': '`storeAssets` scheduled → started on the post-processing queue',
  'store run': '`storeAssets` started → completed (download, verify, store, the catalog write)',
  finish: '`storeAssets` completed → workflow completed (one workflow task)',
};

function millis(event: HistoryEvent | undefined): number | undefined {
  const time = event?.eventTime;
  if (!time) return undefined;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

const scheduledAs = (name: string) => (event: HistoryEvent) =>
  event.activityTaskScheduledEventAttributes?.activityType?.name === name;
const isStoreScheduled = scheduledAs('storeAssets');
const isQueryScheduled = scheduledAs('queryProvider');

/** The started and completed events of the activity scheduled as event `scheduledId`. */
function runOf(events: readonly HistoryEvent[], scheduledId: number) {
  return {
    started: events.find(
      (event) => Number(event.activityTaskStartedEventAttributes?.scheduledEventId) === scheduledId,
    ),
    completed: events.find(
      (event) => Number(event.activityTaskCompletedEventAttributes?.scheduledEventId) === scheduledId,
    ),
  };
}

/**
 * The phases of one task stored after a callback: undefined for a history of another shape (no
 * files, polled to the end, failed).
 */
export function phasesOf(
  events: readonly HistoryEvent[],
  successAt: number,
): Record<Phase, number> | undefined {
  const storeScheduled = events.findIndex(isStoreScheduled);
  if (storeScheduled < 0) return undefined;
  // The confirming query (the last provider query before the files), the last callback before it,
  // and the first workflow task that callback started.
  const query = events.findLastIndex((event, index) => index < storeScheduled && isQueryScheduled(event));
  if (query < 0) return undefined;
  const signal = events.findLastIndex(
    (event, index) => index < query && event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  );
  if (signal < 0) return undefined;
  const wake = events.find(
    (event, index) => index > signal && event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  );
  const confirm = runOf(events, Number(events[query]!.eventId));
  const store = runOf(events, Number(events[storeScheduled]!.eventId));
  const times = [
    successAt,
    millis(events[signal]),
    millis(wake),
    millis(events[query]),
    millis(confirm.started),
    millis(confirm.completed),
    millis(events[storeScheduled]),
    millis(store.started),
    millis(store.completed),
    millis(events.find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)),
  ];
  if (times.some((time) => time === undefined)) return undefined;
  return Object.fromEntries(PHASES.map((phase, i) => [phase, times[i + 1]! - times[i]!])) as Record<
    Phase,
    number
  >;
}
