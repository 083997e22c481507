import { type FastifyBaseLogger } from 'fastify';
import { type TaskKind } from '../provider/kinds.ts';
import { createContent } from './content.ts';
import { Courier } from './courier.ts';
import {
  type CallbackPhase,
  type FaultConfig,
  NO_FAULTS,
  planFaults,
  TRANSIENT_CODES,
  type TransientCode,
} from './faults.ts';
import { chance, decisionRandom, pickOne, taskIdFor } from './seeded.ts';
import { callbackBody } from './shapes.ts';
import { type SimStats } from './stats.ts';
import { isSettled, type SimTask } from './task.ts';
import { KIND_TIMELINES } from './timeline.ts';
import { Timers } from './timers.ts';

export interface EngineOptions {
  seed: number;
  timeScale: number;
  faults: FaultConfig;
  /** Tasks that may be created before submits answer 429; undefined: no quota. */
  quota: number | undefined;
  stats: SimStats;
  log: FastifyBaseLogger;
}

/** A 405/430/455/500 answered instead of the real one; sometimes as the HTTP status, else only in the envelope. */
export interface TransientFault {
  code: TransientCode;
  asHttpStatus: boolean;
}

export type SubmitOutcome =
  | { outcome: 'created'; task: SimTask }
  | { outcome: 'transient'; fault: TransientFault }
  | { outcome: 'quota-exhausted' };

/** Holds the tasks, moves them through their phases on (scaled) timers and sends their callbacks. */
export class Engine {
  readonly tasks = new Map<string, SimTask>();
  seed: number;
  faults: FaultConfig;
  private readonly timers = new Timers();
  private readonly courier: Courier;
  /** Phase timers by task, cancelled when a task is advanced by hand. */
  private readonly phaseTimers = new Map<string, (NodeJS.Timeout | undefined)[]>();
  private submissions = 0;
  /** Bumped on reset and close: work started before then stops at its next step. */
  private generation = 0;

  constructor(private readonly options: EngineOptions) {
    this.seed = options.seed;
    this.faults = options.faults;
    this.courier = new Courier({ ...options, timers: this.timers });
  }

  private scaled(ms: number): number {
    return ms * this.options.timeScale;
  }

  submit(kind: TaskKind, body: Record<string, unknown>, callBackUrl: string, baseUrl: string): SubmitOutcome {
    const { quota } = this.options;
    if (quota !== undefined && this.tasks.size >= quota) return { outcome: 'quota-exhausted' };
    const submission = this.submissions++;
    if (chance(this.seed, 'submit', `transient:${submission}`, this.faults.transientSubmitError)) {
      return { outcome: 'transient', fault: this.transientFault('submit', `transient:${submission}`) };
    }
    let id = taskIdFor(this.seed, submission);
    // Only after a reseed to an earlier seed can an id repeat; skip ahead deterministically.
    while (this.tasks.has(id)) id = taskIdFor(this.seed, this.submissions++);
    const task: SimTask = {
      id,
      kind,
      body,
      callBackUrl,
      baseUrl,
      createdAt: Date.now(),
      plan: planFaults(this.faults, this.seed, id, kind),
      content: createContent(this.seed, id, kind, body),
      schedule: {},
      status: 'PENDING',
      phasesDone: [],
      failure: null,
      queries: 0,
    };
    this.tasks.set(id, task);
    this.start(task);
    return { outcome: 'created', task };
  }

  /** Decides whether this query of the task meets a transient error (numbered per task). */
  queryFault(task: SimTask): TransientFault | undefined {
    const decision = `transient-query:${task.queries++}`;
    if (!chance(this.seed, task.id, decision, this.faults.transientQueryError)) return undefined;
    return this.transientFault(task.id, decision);
  }

  private transientFault(scope: string, decision: string): TransientFault {
    return {
      code: pickOne(this.seed, scope, `${decision}:code`, TRANSIENT_CODES),
      asHttpStatus: chance(this.seed, scope, `${decision}:http`, 0.5),
    };
  }

  /** The cover-art task already made for a source task: the provider makes one per task. */
  coverFor(sourceTaskId: string): SimTask | undefined {
    for (const task of this.tasks.values()) {
      if (task.kind === 'cover-art' && task.body.taskId === sourceTaskId) return task;
    }
    return undefined;
  }

  private start(task: SimTask): void {
    const timeline = KIND_TIMELINES[task.kind];
    const lastPhase = task.plan.failure?.atPhase ?? timeline.length - 1;
    const times = timeline.slice(0, lastPhase + 1).map((phase) => {
      // ±10 %, so tasks submitted together do not all finish on the same millisecond.
      const jitter = 0.9 + 0.2 * decisionRandom(this.seed, task.id, `timing:${phase.name}`)();
      return this.scaled(phase.atMs * jitter);
    });
    this.phaseTimers.set(
      task.id,
      times.map((atMs, index) => {
        const phase = index === task.plan.failure?.atPhase ? 'error' : timeline[index]?.name;
        if (phase) task.schedule[phase] = Math.round(atMs);
        return this.timers.after(atMs, () => this.emit(task, [this.reach(task, index)]));
      }),
    );
    const [first = 0, second = first, third = second] = times;
    if (task.plan.prematureComplete) {
      // Songs: after the stream URL, well before the real completion; other kinds: half-way.
      const atMs = times.length > 1 ? second + (third - second) / 4 : first / 2;
      task.schedule.premature = Math.round(atMs);
      this.phaseTimers.get(task.id)?.push(this.timers.after(atMs, () => this.sendPremature(task)));
    }
    if (task.plan.forgedCallback) {
      task.schedule.forged = Math.round(first / 2);
      this.timers.after(first / 2, () => this.sendForged(task));
    }
  }

  /** Moves the task to phase `index` of its timeline (or its planned failure) and names the callback due. */
  private reach(task: SimTask, index: number): CallbackPhase {
    const failure = task.plan.failure;
    if (failure?.atPhase === index) {
      task.status = failure.status;
      task.failure = failure;
      return 'error';
    }
    const phase = KIND_TIMELINES[task.kind][index];
    if (!phase) throw new Error(`${task.kind} has no phase ${index}`);
    task.status = phase.status;
    task.phasesDone.push(phase.name);
    return phase.name;
  }

  /** Finishes the task at once (its remaining phases, in order); for tests. */
  advance(task: SimTask): void {
    if (isSettled(task)) return;
    for (const timer of this.phaseTimers.get(task.id) ?? []) this.timers.cancel(timer);
    const lastPhase = task.plan.failure?.atPhase ?? KIND_TIMELINES[task.kind].length - 1;
    const due: CallbackPhase[] = [];
    for (let index = task.phasesDone.length; index <= lastPhase; index++) due.push(this.reach(task, index));
    this.emit(task, due);
  }

  private emit(task: SimTask, phases: CallbackPhase[]): void {
    const held = task.plan.reorderedPhases;
    // Reordered callbacks wait for the last phase, then all go out in the planned order.
    if (held && !isSettled(task)) return;
    this.dispatch(task, held ?? phases).catch((error: unknown) => {
      this.options.log.error({ err: error, taskId: task.id }, 'callback dispatch failed');
    });
  }

  /** Sends callbacks one after the other, applying each phase's drop, delay and duplicate faults. */
  private async dispatch(task: SimTask, phases: CallbackPhase[]): Promise<void> {
    const generation = this.generation;
    for (const phase of phases) {
      const faults = task.plan.callbacks[phase];
      if (faults.drop) {
        this.options.stats.callbacks(task.id).dropped++;
        continue;
      }
      if (faults.extraDelayMs > 0) await this.timers.sleep(this.scaled(faults.extraDelayMs));
      const body = callbackBody(task, phase, faults.wrapped);
      for (let copy = 1; copy <= faults.copies; copy++) {
        if (generation !== this.generation) return;
        await this.courier.send({
          ...this.address(task),
          phase,
          body,
          copy,
          forged: false,
          premature: false,
        });
      }
    }
  }

  private address(task: SimTask) {
    return { taskId: task.id, createdAt: task.createdAt, url: task.callBackUrl };
  }

  private sendPremature(task: SimTask): void {
    if (isSettled(task)) return;
    const body = callbackBody(task, 'complete', task.plan.callbacks.complete.wrapped);
    const callback = { ...this.address(task), phase: 'complete' as const, body, copy: 1 };
    void this.courier.send({ ...callback, forged: false, premature: true });
  }

  /** A completion claim without the URL's token or signature: what an attacker who guessed the URL would send. */
  private sendForged(task: SimTask): void {
    const url = new URL(task.callBackUrl);
    url.searchParams.delete('token');
    url.searchParams.delete('sig');
    this.options.stats.callbacks(task.id).forged++;
    const body = callbackBody(task, 'complete', false);
    const callback = {
      ...this.address(task),
      url: url.toString(),
      phase: 'complete' as const,
      body,
      copy: 1,
    };
    void this.courier.send({ ...callback, forged: true, premature: false });
  }

  /** Replaces the fault config; a new seed also restarts the task-id sequence. */
  setFaults(faults: Partial<FaultConfig>, seed?: number): void {
    this.faults = { ...NO_FAULTS, ...faults };
    if (seed !== undefined) {
      this.seed = seed;
      this.submissions = 0;
    }
  }

  /** Forgets every task and stops their timers and deliveries. */
  reset(): void {
    this.generation++;
    this.timers.cancelAll();
    this.courier.abortAll();
    this.tasks.clear();
    this.phaseTimers.clear();
    this.submissions = 0;
    this.options.stats.reset();
  }

  close(): void {
    this.generation++;
    this.timers.close();
    this.courier.abortAll();
  }

  get pendingTimers(): number {
    return this.timers.size;
  }
}
