/** Handing a new task to its musicTask workflow, through the task client. */
import type { TaskClient } from '../tasks/client.ts';
import type { MusicTaskInput } from '../workflows/definitions.ts';

export interface TrackingActivityDeps {
  tasks?: Pick<TaskClient, 'startTracking'>;
}

export function trackingActivities(deps: TrackingActivityDeps) {
  return {
    /** Starts the task's musicTask workflow, or joins it when a callback started it first. */
    trackTask: async (input: MusicTaskInput): Promise<void> => {
      if (!deps.tasks) throw new Error('trackTask needs a task client');
      const { taskId, kind, ...extra } = input;
      await deps.tasks.startTracking(taskId, kind, extra);
    },
  };
}
