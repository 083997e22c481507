/**
 * A task's events after a sequence number: its query `events` while it runs; once it completed,
 * from its result, which carries its final log (no worker needs to replay it for that).
 */
import type { Client } from '@temporalio/client';
import { musicTaskWorkflowId } from '../workflows/definitions.ts';
import { eventsQuery, type EventsPage } from '../workflows/events.ts';

export async function readEvents(
  client: Client,
  taskId: string,
  afterSeq: number,
  deadlineMs: number,
  /** The run's close status when it is known to be closed (`COMPLETED` reads the result). */
  closed?: string,
): Promise<EventsPage> {
  const handle = client.workflow.getHandle(musicTaskWorkflowId(taskId));
  if (closed === 'COMPLETED') {
    try {
      const result = (await client.withDeadline(Date.now() + deadlineMs, () => handle.result())) as {
        eventLog?: EventsPage;
      };
      if (result?.eventLog) {
        return { ...result.eventLog, events: result.eventLog.events.filter((event) => event.seq > afterSeq) };
      }
    } catch {
      // not a result with its log (an older run): ask the workflow
    }
  }
  return client.withDeadline(Date.now() + deadlineMs, () => handle.query(eventsQuery, afterSeq));
}
