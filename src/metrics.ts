import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The HTTP process's Prometheus metrics, in a registry of its own (tests build many apps). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    callbacks: new Counter({
      name: 'music_webhook_callbacks_total',
      help: 'Provider callbacks received, by kind, phase and outcome',
      labelNames: ['kind', 'phase', 'outcome'] as const,
      registers: [registry],
    }),
    signalLatency: new Histogram({
      name: 'music_webhook_signal_seconds',
      help: 'Time for Temporal to durably accept a callback signal (signalWithStart)',
      labelNames: ['outcome'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    httpRequests: new Histogram({
      name: 'music_http_request_seconds',
      help: 'HTTP requests by route and status code',
      labelNames: ['method', 'route', 'code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    submissions: new Counter({
      name: 'music_task_submissions_total',
      help: 'Task submissions through the API, by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
