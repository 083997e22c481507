/**
 * The parts of a deployment as child processes that the cluster, a benchmark or the chaos run can
 * kill and start again, keeping every line each incarnation printed (for the log scan).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The checkout's root: children run from here. */
export const projectRoot = join(import.meta.dirname, '..', '..');

export interface LogLine {
  process: string;
  incarnation: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ProcessSpec {
  name: string;
  /** A TypeScript entry point, relative to the project root, run with `node --import tsx`. */
  entry?: string;
  /** A program to run instead of a TypeScript entry point, with its arguments. */
  command?: { file: string; args: string[] };
  env: NodeJS.ProcessEnv;
  /** Resolves once the new incarnation can do its work. */
  ready: (part: ManagedProcess) => Promise<void>;
  /** Echo its lines on this process's stderr, prefixed with its name. */
  echo?: boolean;
  /** Open an IPC channel (the bench worker answers memory probes on it). */
  ipc?: boolean;
  /** Run as this user (PostgreSQL refuses to run as root). */
  user?: { uid: number; gid: number };
  /** Called when an incarnation exits although nobody stopped it (a supervisor stops the rest). */
  onUnexpectedExit?: (part: ManagedProcess, description: string) => void;
}

/** Raised when a part exits while it should be running, or does not get ready. */
export class ProcessFailure extends Error {
  override readonly name = 'ProcessFailure';
}

/** One part of the service: started, killed and restarted on demand; its exits are accounted for. */
export class ManagedProcess {
  readonly logs: LogLine[] = [];
  /** Exits nobody asked for, with their code or signal. */
  readonly unexpectedExits: string[] = [];
  incarnation = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopRequested = false;
  private readonly lineWaiters = new Set<(line: LogLine) => void>();

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The live child, for IPC. */
  get process(): ChildProcess {
    if (!this.child) throw new ProcessFailure(`${this.spec.name} is not running`);
    return this.child;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const incarnation = ++this.incarnation;
    const { file, args } = this.spec.command ?? {
      file: process.execPath,
      args: ['--import', 'tsx', join(projectRoot, this.spec.entry ?? '')],
    };
    const child = spawn(file, args, {
      cwd: projectRoot,
      ...this.spec.user,
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe', ...(this.spec.ipc ? ['ipc' as const] : [])],
    });
    this.child = child;
    this.stopRequested = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.stopRequested) {
          const description = `incarnation ${incarnation}: ${signal ?? `code ${code}`}`;
          this.unexpectedExits.push(description);
          this.spec.onUnexpectedExit?.(this, description);
        }
        resolve();
      }),
    );
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream]! }).on('line', (text) => {
        const line: LogLine = { process: this.spec.name, incarnation, stream, text };
        this.logs.push(line);
        if (this.spec.echo) process.stderr.write(`[${this.spec.name}#${incarnation}] ${text}\n`);
        for (const waiter of this.lineWaiters) waiter(line);
      });
    }
    const died = this.exited.then(() => {
      throw new ProcessFailure(`${this.spec.name} exited before it was ready: ${this.lastLines()}`);
    });
    try {
      await Promise.race([this.spec.ready(this), died]);
    } catch (error) {
      await this.stop('SIGKILL');
      throw error;
    }
  }

  /** Stops the current incarnation: SIGTERM is a graceful stop, SIGKILL a crash. */
  async stop(signal: 'SIGTERM' | 'SIGINT' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.stopRequested = true;
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(killer);
  }

  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  /** Resolves with the first line (of this incarnation on) that matches. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const waiter = (line: LogLine) => {
        if (line.incarnation !== this.incarnation || !pattern.test(line.text)) return;
        clearTimeout(timer);
        this.lineWaiters.delete(waiter);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.lineWaiters.delete(waiter);
        reject(new ProcessFailure(`${this.spec.name} printed no ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.lineWaiters.add(waiter);
    });
  }

  lastLines(count = 10): string {
    return this.logs
      .slice(-count)
      .map((line) => line.text)
      .join('\n');
  }
}

/** Resolves once `url` answers 2xx. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new ProcessFailure(`${url} did not answer 2xx within ${timeoutMs} ms`);
}
