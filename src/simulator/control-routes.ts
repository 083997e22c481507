import { redactCallbackUrl } from './redact.ts';
import { type FastifyInstance } from 'fastify';
import { type Engine } from './engine.ts';
import { faultUpdateSchema } from './faults.ts';
import { type RateLimiter } from './rate-limit.ts';
import { envelope, mediaUrl, queryData } from './shapes.ts';
import { type SimStats } from './stats.ts';
import { isSettled, type SimTask } from './task.ts';

export interface ControlRoutesOptions {
  engine: Engine;
  stats: SimStats;
  limiter: RateLimiter | undefined;
  quota: number | undefined;
}

/** The simulator's truth about a task, for tests that compare it with what the service concluded. */
export function taskTruth(task: SimTask, stats: SimStats) {
  return {
    taskId: task.id,
    kind: task.kind,
    status: task.status,
    settled: isSettled(task),
    /** How the task ends (or ended): SUCCESS or its planned failure state. */
    outcome: task.plan.failure?.status ?? 'SUCCESS',
    phasesDone: task.phasesDone,
    failure: task.failure,
    createdAt: new Date(task.createdAt).toISOString(),
    callBackUrl: redactCallbackUrl(task.callBackUrl),
    schedule: task.schedule,
    faults: task.plan,
    /** Exactly what the task's query route answers now (bar a transient fault). */
    query: envelope(200, 'success', queryData(task)),
    media: [...task.content.media.keys()].map((file) => mediaUrl(task, file)),
    calls: stats.taskCalls.get(task.id) ?? {},
    callbacks: stats.callbacks(task.id),
    deliveries: stats.deliveries.get(task.id) ?? [],
  };
}

/** Inspection and control under `/__sim/`, a prefix no provider route uses; no key needed. */
export function controlRoutes(app: FastifyInstance, options: ControlRoutesOptions, done: () => void) {
  const { engine, stats, limiter, quota } = options;
  type TaskParams = { Params: { taskId: string } };

  app.get('/__sim/stats', () => ({
    requests: { total: stats.total, byRoute: stats.byRoute, byCode: stats.byCode },
    tasksSubmitted: engine.tasks.size,
    /** Phase timers and redeliveries still to come; 0 once everything settled (or after close). */
    timersPending: engine.pendingTimers,
    quota: quota === undefined ? null : { limit: quota, used: engine.tasks.size },
    callbacks: stats.callbackTotals(),
    downloads: {
      total: Object.values(stats.downloads).reduce((sum, count) => sum + count, 0),
      byFile: stats.downloads,
    },
    tasks: Object.fromEntries(
      [...engine.tasks.values()].map((task) => [
        task.id,
        {
          kind: task.kind,
          status: task.status,
          calls: stats.taskCalls.get(task.id) ?? {},
          callbacks: stats.callbacks(task.id),
          faults: task.plan,
        },
      ]),
    ),
  }));

  app.get('/__sim/faults', () => ({ seed: engine.seed, ...engine.faults }));

  app.put('/__sim/faults', (request, reply) => {
    const parsed = faultUpdateSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reply
        .code(400)
        .send({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    }
    const { seed, ...faults } = parsed.data;
    engine.setFaults(faults, seed);
    return { seed: engine.seed, ...engine.faults };
  });

  app.post('/__sim/reset', () => {
    engine.reset();
    limiter?.reset();
    return { reset: true, seed: engine.seed };
  });

  app.get<TaskParams>('/__sim/tasks/:taskId', (request, reply) => {
    const task = engine.tasks.get(request.params.taskId);
    if (!task) return reply.code(404).send({ error: 'Task not found' });
    return taskTruth(task, stats);
  });

  app.post<TaskParams>('/__sim/tasks/:taskId/advance', (request, reply) => {
    const task = engine.tasks.get(request.params.taskId);
    if (!task) return reply.code(404).send({ error: 'Task not found' });
    engine.advance(task);
    return taskTruth(task, stats);
  });
  done();
}
