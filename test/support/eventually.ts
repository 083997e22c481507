/**
 * The one "poll until" of the tests: reads until `done` holds, and on time-out fails with the
 * last value read, so a failure shows what the test saw rather than a stale or missing view.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 30_000, intervalMs = 200, what = 'the condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let failure: unknown;
  for (;;) {
    try {
      last = await read();
      failure = undefined;
      if (done(last)) return last;
    } catch (error) {
      failure = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const seen =
    failure === undefined
      ? JSON.stringify(last)
      : `an error: ${failure instanceof Error ? failure.message : JSON.stringify(failure)}`;
  throw new Error(`${what} did not hold within ${timeoutMs} ms; last read: ${seen?.slice(0, 2_000)}`);
}
