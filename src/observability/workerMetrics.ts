import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The worker process's Prometheus metrics: provider calls, polls and post-processing.
 * A registry of its own, so tests that run many workers in one process never collide.
 */
export function createWorkerMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const providerCalls = new Counter({
    name: 'music_provider_calls_total',
    help: 'Provider API calls, by route and answer code (the HTTP status or envelope code; "network" when none came)',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  const providerCallSeconds = new Histogram({
    name: 'music_provider_call_seconds',
    help: 'Provider API call latency, by route',
    labelNames: ['route'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers,
  });
  return {
    registry,
    providerCalls,
    budgetCalls: new Counter({
      name: 'music_provider_requests_total',
      help: 'Provider calls by purpose (submit, confirm, poll) and outcome (ok, or the failure type: ProviderRateLimited is a 430/405)',
      labelNames: ['purpose', 'outcome'] as const,
      registers,
    }),
    budgetWaitSeconds: new Histogram({
      name: 'music_provider_call_wait_seconds',
      help: 'Time a provider call waited for the fleet budget (scheduled on the provider queue → started), by purpose',
      labelNames: ['purpose'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    }),
    providerCallSeconds,
    polls: new Counter({
      name: 'music_polls_total',
      help: 'Queries of a task at the provider (fallback polls and confirmations), by kind and outcome (the reported status, or the failure type)',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    postprocessAssets: new Counter({
      name: 'music_postprocess_assets_total',
      help: 'Provider files copied into our storage, by kind and asset type',
      labelNames: ['kind', 'type'] as const,
      registers,
    }),
    postprocessBytes: new Counter({
      name: 'music_postprocess_bytes_total',
      help: 'Bytes of provider files copied into our storage, by kind and asset type',
      labelNames: ['kind', 'type'] as const,
      registers,
    }),
    postprocessFailures: new Counter({
      name: 'music_postprocess_failures_total',
      help: "Failed attempts to store a task's files, by kind and failure type (one per activity attempt; AssetGone is final at once, AssetInvalid after its third attempt, the rest retry)",
      labelNames: ['kind', 'error'] as const,
      registers,
    }),
    postprocessSeconds: new Histogram({
      name: 'music_postprocess_seconds',
      help: 'Time to download, check and store one provider file, by kind',
      labelNames: ['kind'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    /** The `ProviderClient` `onCall` hook. */
    recordProviderCall: (route: string, code: number | 'network', durationMs: number): void => {
      providerCalls.labels(route, String(code)).inc();
      providerCallSeconds.labels(route).observe(durationMs / 1000);
    },
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
