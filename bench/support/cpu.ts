/**
 * CPU and memory of processes by pid, from /proc: how busy the dev server, the worker and the
 * HTTP server were during a phase, to show which of them is the bottleneck.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    // The command name is in parentheses and may hold spaces: the fields count from after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Resident memory in bytes (VmRSS); undefined once the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU use of named processes over a phase, in % of one core. */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private startedAt = 0;

  constructor(private readonly pids: Readonly<Record<string, number | undefined>>) {}

  begin(): this {
    this.startedAt = performance.now();
    for (const [name, pid] of Object.entries(this.pids)) {
      const seconds = pid === undefined ? undefined : cpuSeconds(pid);
      if (seconds !== undefined) this.start.set(name, seconds);
    }
    return this;
  }

  /** % of one core each process used since {@link begin}. */
  end(): Record<string, number> {
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const usage: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.start.get(name);
      const after = pid === undefined ? undefined : cpuSeconds(pid);
      if (before !== undefined && after !== undefined) usage[name] = (100 * (after - before)) / wallSeconds;
    }
    return usage;
  }
}

/** `temporal 96 %, worker 41 %, …`. */
export function describeCpu(usage: Record<string, number>): string {
  return Object.entries(usage)
    .map(([name, percent]) => `${name} ${Math.round(percent)} %`)
    .join(', ');
}
