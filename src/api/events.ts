/**
 * Live progress as Server-Sent Events under `/v1`:
 *
 * - `GET /tasks/:taskId/events`: the task's events from the start (or after `Last-Event-ID`, its
 *   sequence number), then each new one as the workflow records it; the stream ends after the
 *   terminal event (`ready`, `failed`, `timed_out`, `cancelled`), and a reconnect after that is
 *   answered 204 (EventSource then stops).
 * - `GET /events?kind=&status=`: every task's events from now (or after `Last-Event-ID`), in the
 *   order they were recorded.
 *
 * Every id is derived from the workflows alone, so any replica resumes any client. Heartbeats are
 * comment lines. Same `API_TOKEN` rule as the rest of `/v1` (`?token=` or the console's cookie for
 * EventSource, which cannot send a header).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Gauge, Histogram } from 'prom-client';
import { z } from 'zod';
import { HttpError } from '../httpErrors.ts';
import { TASK_KINDS, type TaskKind } from '../provider/kinds.ts';
import { isProviderTaskId } from '../provider/taskId.ts';
import type { EventAsset, TaskEvent } from '../workflows/events.ts';
import { formatPosition, parsePosition, parseSeq } from '../events/eventIds.ts';
import { RESUME_MAX_AGE_MS, type GlobalEvent } from '../events/globalFeed.ts';
import { EventHub } from '../events/hub.ts';
import { SseStream, type SseOptions } from '../events/sse.ts';
import { requireApiToken } from './auth.ts';
import * as contract from '../contract/schemas.ts';

/** A client may leave this much unread before it is disconnected (it resumes with Last-Event-ID). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const RETRY_MS = 1_000;

const taskIdParams = z.object({
  taskId: z.string().trim().refine(isProviderTaskId, '1 to 128 letters, digits, . _ : -'),
});
const kindSchema = z.enum(TASK_KINDS, { error: `expected one of ${TASK_KINDS.join(', ')}` });
const statusSchema = z
  .string()
  .trim()
  .regex(/^[A-Z_]{1,64}$/, 'a status name such as SUCCESS');
/** `lastEventId` in the query: for clients that cannot set the header (a first connect from a saved id). */
const lastEventIdQuery = z.string().trim().min(1).max(200).optional();

/** An event as the API shows it: its task, and where each stored file is served. */
function publicEvent(taskId: string, kind: string, event: TaskEvent) {
  const { position: _position, ...rest } = event as Partial<GlobalEvent> & TaskEvent;
  return {
    ...rest,
    taskId,
    kind,
    ...(event.assets
      ? {
          assets: event.assets.map((asset: EventAsset) => ({
            ...asset,
            url: `/v1/assets/${encodeURIComponent(asset.id)}`,
          })),
        }
      : {}),
  };
}

function lastEventIdOf(request: FastifyRequest, fromQuery: string | undefined): string | undefined {
  const header = request.headers['last-event-id'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  return value || fromQuery;
}

function tooMany(reply: FastifyReply, max: number): never {
  void reply.header('retry-after', '5');
  throw new HttpError(503, 'too_many_streams', `this server holds ${max} event streams already; try again`);
}

export async function eventRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { client, connection, metrics } = app.deps;
  const foundLag =
    (metrics.registry.getSingleMetric('music_events_found_lag_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'music_events_found_lag_seconds',
      help: 'From a workflow recording an event to the visibility scan that found it (stream of all tasks)',
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [metrics.registry],
    });
  const hub = new EventHub(
    {
      client,
      connection,
      namespace: app.config.temporal.namespace,
      taskQueue: app.config.temporal.taskQueue,
    },
    app.config.events.maxStreams,
    (lagMs) => foundLag.observe(lagMs / 1000),
  );
  const sse: SseOptions = {
    heartbeatMs: app.config.events.heartbeatMs,
    maxBufferedBytes: MAX_BUFFERED_BYTES,
    retryMs: RETRY_MS,
  };
  if (!metrics.registry.getSingleMetric('music_event_streams')) {
    new Gauge({
      name: 'music_event_streams',
      help: 'Event streams (Server-Sent Events) open on this server',
      registers: [metrics.registry],
      collect() {
        this.set(hub.openStreams);
      },
    });
    new Gauge({
      name: 'music_event_task_feeds',
      help: 'Tasks whose events this server follows for its streams',
      registers: [metrics.registry],
      collect() {
        this.set(hub.taskFeeds);
      },
    });
    new Gauge({
      name: 'music_events_late',
      help: 'Events the stream of all tasks found later than its settle time allowed (sent out of order)',
      registers: [metrics.registry],
      collect() {
        this.set(hub.global.stats.late);
      },
    });
    new Gauge({
      name: 'music_events_settle_seconds',
      help: 'How old an event is when the stream of all tasks hands it on (follows visibility lag)',
      registers: [metrics.registry],
      collect() {
        this.set(hub.global.settleMs / 1000);
      },
    });
  }
  // Open streams would hold the server's close forever: end them first (clients reconnect).
  app.addHook('preClose', async () => hub.close());
  requireApiToken(app);

  app.get(
    '/tasks/:taskId/events',
    {
      schema: {
        summary: "A task's events, live (Server-Sent Events)",
        description:
          'From the first event, or after `Last-Event-ID` (the sequence number); ends after the terminal event. ' +
          '204 when nothing follows `Last-Event-ID`.',
        tags: ['events'],
        params: taskIdParams,
        querystring: z.object({ lastEventId: lastEventIdQuery }),
        response: {
          200: z.any().meta({ description: 'text/event-stream of task events', type: 'string' }),
          204: z.any().meta({ description: 'the task ended before: nothing follows' }),
          ...contract.errors(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { taskId } = request.params;
      const lastEventId = lastEventIdOf(request, request.query.lastEventId);
      const after = lastEventId === undefined ? 0 : parseSeq(lastEventId);
      if (after === undefined) {
        throw new HttpError(
          400,
          'invalid_last_event_id',
          `Last-Event-ID must be an event id of this task's stream (its sequence number), got "${lastEventId}"`,
        );
      }
      if (!hub.hasRoom()) tooMany(reply, hub.maxStreams);
      const feed = hub.task(taskId);
      try {
        await feed.prime();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) {
          throw new HttpError(404, 'task_not_found', `no task ${taskId} is tracked here`);
        }
        throw error;
      }
      if (after > feed.lastSeq) await feed.refreshNow();
      if (after > feed.lastSeq) {
        throw new HttpError(
          400,
          'invalid_last_event_id',
          `task ${taskId} has no event ${after} (its newest is ${feed.lastSeq})`,
        );
      }
      if (feed.ended && after >= feed.lastSeq) {
        // Nothing follows the terminal event: 204 tells EventSource not to reconnect.
        return reply.code(204).send();
      }
      reply.hijack();
      const stream = new SseStream(request.raw, reply.raw, sse);
      stream.open();
      hub.track(stream);
      const kind = feed.kind;
      let sent = after;
      const unsubscribe = feed.subscribe({
        deliver(events) {
          for (const event of events) {
            if (event.seq <= sent) continue;
            if (event.seq > sent + 1 && sent < feed.firstSeq - 1) {
              // The workflow keeps its newest events only: say what is gone instead of hiding it.
              stream.send(String(event.seq - 1), {
                type: 'gap',
                taskId,
                kind,
                from: sent + 1,
                to: event.seq - 1,
              });
            }
            stream.send(String(event.seq), publicEvent(taskId, kind, event));
            sent = event.seq;
          }
        },
        ended() {
          stream.end();
        },
      });
      stream.onClose(unsubscribe);
    },
  );

  app.get(
    '/events',
    {
      schema: {
        summary: "Every task's events, live (Server-Sent Events)",
        description:
          'Filtered by `kind` and by the status each event left its task in; resumable with `Last-Event-ID`.',
        tags: ['events'],
        response: {
          200: z.any().meta({ description: 'text/event-stream of task events', type: 'string' }),
          ...contract.errors(400, 401, 410, 503),
        },
        querystring: z.object({
          kind: kindSchema.optional(),
          status: statusSchema.optional(),
          lastEventId: lastEventIdQuery,
        }),
      },
    },
    async (request, reply) => {
      const { kind, status } = request.query;
      const lastEventId = lastEventIdOf(request, request.query.lastEventId);
      const given = lastEventId === undefined ? undefined : parsePosition(lastEventId);
      if (lastEventId !== undefined && !given) {
        throw new HttpError(
          400,
          'invalid_last_event_id',
          `Last-Event-ID must be an event id of this stream (<epoch ms>-<taskId>-<seq>), got "${lastEventId}"`,
        );
      }
      if (given && given.atMs > Date.now() + 60_000) {
        throw new HttpError(400, 'invalid_last_event_id', `Last-Event-ID "${lastEventId}" is in the future`);
      }
      if (given && given.atMs < Date.now() - RESUME_MAX_AGE_MS) {
        throw new HttpError(
          410,
          'last_event_id_expired',
          `Last-Event-ID "${lastEventId}" is more than ${RESUME_MAX_AGE_MS / 3_600_000} h old: connect without it and read GET /v1/tasks`,
        );
      }
      if (!hub.hasRoom()) tooMany(reply, hub.maxStreams);
      reply.hijack();
      const stream = new SseStream(request.raw, reply.raw, sse);
      stream.open();
      hub.track(stream);
      const from = given ?? hub.global.now();
      let lastId = formatPosition(from);
      // A client that came without an id gets one at once: a reconnect resumes from here.
      if (!given) stream.moveId(lastId);
      let advancedTo: string | undefined;
      const abort = new AbortController();
      stream.onClose(() => abort.abort());
      const send = (id: string, event: GlobalEvent) =>
        stream.send(id, publicEvent(event.taskId, event.kind, event));
      const filter: { kind?: TaskKind; status?: string } = {
        ...(kind ? { kind } : {}),
        ...(status ? { status } : {}),
      };
      let unsubscribe: () => void = () => undefined;
      try {
        unsubscribe = await hub.global.subscribe(
          {
            filter,
            deliver(events) {
              for (const event of events) {
                lastId = formatPosition(event.position);
                send(lastId, event);
              }
              advancedTo = undefined;
            },
            // Out of order: the id stays where the client is, so a resume neither repeats nor skips.
            late(event) {
              send(lastId, event);
            },
            advance(position) {
              advancedTo = formatPosition(position);
            },
          },
          from,
          abort.signal,
        );
      } catch (error) {
        request.log.warn({ err: error }, 'event stream could not start');
        stream.end();
        return;
      }
      // Quiet for a while: the heartbeat moves the client's id on, so a resume reads little.
      const move = setInterval(() => {
        if (advancedTo && advancedTo !== lastId) {
          lastId = advancedTo;
          stream.moveId(lastId);
        }
      }, sse.heartbeatMs);
      move.unref();
      stream.onClose(() => {
        clearInterval(move);
        unsubscribe();
      });
    },
  );
}
