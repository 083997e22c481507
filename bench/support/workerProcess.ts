/**
 * A worker child for benchmarks: exactly `src/worker.ts` (createMusicWorker from the environment),
 * but on a prebuilt workflow bundle, and answering memory probes over IPC so the bench can read
 * the heap of the process that holds the workflows. `BENCH_MAX_CACHED_WORKFLOWS` overrides the
 * workflow cache size.
 */
import { loadConfig } from '../../src/config.ts';
import { createMusicWorker } from '../../src/worker.ts';

/** What the worker answers to a `probe` message. */
export interface WorkerProbe {
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
}

const config = loadConfig();
const codePath = process.env.BENCH_WORKFLOW_BUNDLE;
// Only the workflow-cache benchmark sets it, to compare cache sizes; otherwise the default holds.
const maxCachedWorkflows = Number(process.env.BENCH_MAX_CACHED_WORKFLOWS) || undefined;
const worker = await createMusicWorker({
  config,
  ...(codePath ? { workflowBundle: { codePath } } : {}),
  ...(maxCachedWorkflows ? { maxCachedWorkflows } : {}),
});
process.on('message', (message) => {
  if (message !== 'probe') return;
  const probe: WorkerProbe = { memory: process.memoryUsage(), cpu: process.cpuUsage() };
  process.send?.(probe);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
console.log(`worker polling ${config.temporal.taskQueue} at ${config.temporal.address}`);
await worker.run();
// The IPC channel would keep the process alive after the worker stopped.
process.disconnect?.();
