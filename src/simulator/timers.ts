/**
 * Every timer the simulator starts goes through here, so a reset or `close()` can cancel them all
 * and tests exit without waiting for a task that would finish in two minutes.
 */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private closed = false;

  /** Runs `task` after `ms`; nothing happens once closed. */
  after(ms: number, task: () => void): NodeJS.Timeout | undefined {
    if (this.closed) return undefined;
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      task();
    }, ms);
    this.pending.add(timer);
    return timer;
  }

  /** Resolves after `ms`, or never when cancelled first (callers check their own generation). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  cancel(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.pending.delete(timer);
  }

  cancelAll(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  close(): void {
    this.closed = true;
    this.cancelAll();
  }

  get size(): number {
    return this.pending.size;
  }
}
