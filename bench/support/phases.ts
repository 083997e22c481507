/**
 * Where the time between the provider's SUCCESS and `ready` goes, read from a task's history:
 * the callback's way in, the workflow task that wakes on it and confirms, the wait for and the run of
 * the post-processing activity, and the final workflow task.
 */
import proto from '@temporalio/proto';

const { EventType } = proto.temporal.api.enums.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export const PHASES = ['callback in', 'wake wait', 'confirm', 'store wait', 'store run', 'finish'] as const;
export type Phase = (typeof PHASES)[number];

export const PHASE_MEANINGS: Record<Phase, string> = {
  'callback in':
    "provider's SUCCESS → the `callback` signal in the history (simulator, webhook, signalWithStart)",
  'wake wait': 'signal → the workflow task it causes started by the worker',
  confirm:
    'that workflow task started → `storeAssets` scheduled (the confirming query, then the task completed)',
  'store wait': '`storeAssets` scheduled → started on the post-processing queue',
  'store run': '`storeAssets` started → completed (download, verify, store)',
  finish: '`storeAssets` completed → workflow completed (a workflow task with the catalog write)',
};

function millis(event: HistoryEvent | undefined): number | undefined {
  const time = event?.eventTime;
  if (!time) return undefined;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

function isStoreScheduled(event: HistoryEvent): boolean {
  return event.activityTaskScheduledEventAttributes?.activityType?.name === 'storeAssets';
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
  // The last callback before the files were scheduled, and the first workflow task it started.
  const signal = events.findLastIndex(
    (event, index) =>
      index < storeScheduled && event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  );
  if (signal < 0) return undefined;
  const wake = events.find(
    (event, index) => index > signal && event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  );
  const storeId = Number(events[storeScheduled]!.eventId);
  const storeStarted = events.find(
    (event) => Number(event.activityTaskStartedEventAttributes?.scheduledEventId) === storeId,
  );
  const storeCompleted = events.find(
    (event) => Number(event.activityTaskCompletedEventAttributes?.scheduledEventId) === storeId,
  );
  const times = [
    successAt,
    millis(events[signal]),
    millis(wake),
    millis(events[storeScheduled]),
    millis(storeStarted),
    millis(storeCompleted),
    millis(events.find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)),
  ];
  if (times.some((time) => time === undefined)) return undefined;
  return Object.fromEntries(PHASES.map((phase, i) => [phase, times[i + 1]! - times[i]!])) as Record<
    Phase,
    number
  >;
}
