import { CancellationScope, condition, sleep } from '@temporalio/workflow';

/**
 * `condition(fn, ms)` whose timer carries a summary, which the Temporal UI shows in place of the
 * timer's bare sequence number. The same commands as `condition` with a timeout: start the timer,
 * cancel it when `fn` comes true first.
 * @returns true when `fn` came true, false when the time ran out
 */
export async function waitUntil(fn: () => boolean, ms: number, summary: string): Promise<boolean> {
  return CancellationScope.cancellable(async () => {
    try {
      return await Promise.race([sleep(ms, { summary }).then(() => false), condition(fn).then(() => true)]);
    } finally {
      CancellationScope.current().cancel();
    }
  });
}

/** `45s`, `2m30s`: a timer's length as a person reads it. */
export function formatWait(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const rest = seconds % 60;
  return `${Math.floor(seconds / 60)}m${rest ? `${String(rest).padStart(2, '0')}s` : ''}`;
}
