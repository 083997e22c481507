/**
 * The one shutdown path of every entry point (`npm start`, the server, the worker, the simulator,
 * the cluster), through `close-with-grace`: SIGINT, SIGTERM (and the other terminating signals) or
 * an uncaught error run `close` once; a second signal, an error while closing, or a close that
 * outlasts `delayMs` exits at once with 1. A clean close exits 0 after a signal, 1 after an error.
 */
import closeWithGrace from 'close-with-grace';

export interface ShutdownReason {
  signal?: string;
  error?: Error;
}

export interface Shutdown {
  /** Closes as a signal would, then exits with `exitCode` (a supervised part died: 1). */
  stop(exitCode: number): void;
}

export function onShutdown(
  name: string,
  close: (reason: ShutdownReason) => Promise<void>,
  options: { delayMs?: number } = {},
): Shutdown {
  let exitCode = 0;
  const grace = closeWithGrace(
    {
      delay: options.delayMs ?? 10_000,
      logger: { error: (...args: unknown[]) => console.error(`${name}:`, ...args) },
      // A process whose work ran out ends by itself; only signals and errors close it.
      skip: ['beforeExit'],
    },
    async ({ signal, err }) => {
      if (err) console.error(`${name}: ${err.stack ?? String(err)}`);
      await close({ ...(signal ? { signal } : {}), ...(err ? { error: err } : {}) });
      if (exitCode) process.exit(exitCode);
    },
  );
  return {
    stop(code) {
      exitCode = code;
      grace.close();
    },
  };
}
