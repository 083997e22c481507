import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

/** The machine a run measured, as RESULTS.md states it. */
export function describeMachine(): string[] {
  return [
    `- CPUs (nproc): ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown'}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node.js ${process.version} on ${process.platform} ${process.arch}`,
    `- date: ${new Date().toISOString()}`,
    `- load average (1, 5, 15 min) as the report was written: ${loadavg()
      .map((load) => load.toFixed(2))
      .join(', ')} (other users of the machine included)`,
  ];
}
