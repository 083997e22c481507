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
import { type OwedCallback, type SimulatorStore } from './store.ts';
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
  /** Keeps tasks and owed callbacks across restarts; undefined: in memory only. */
  store?: SimulatorStore;
}

/** How long after a restart the simulator waits for its callback receiver to listen. */
const RESTORE_RECEIVER_WAIT_MS = 120_000;

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
    const store = options.store;
    this.courier = new Courier({
      ...options,
      timers: this.timers,
      owed: store && {
        retry: (id, attempt, dueAt) => store.rescheduleOwed(id, attempt, dueAt),
        settled: (id) => store.dropOwed(id),
      },
    });
  }

  /**
   * Takes back the stored tasks after a restart: their timelines ran on in wall-clock time, so
   * phases that fell due while down happen now, and callbacks still owed go out again.
   */
  restore(): void {
    const store = this.options.store;
    if (!store) return;
    this.submissions = store.submissions;
    // `npm start` starts the simulator before the HTTP server it calls back.
    this.courier.waitForReceiver(RESTORE_RECEIVER_WAIT_MS);
    for (const saved of store.tasks()) {
      const task: SimTask = {
        ...saved,
        content: createContent(saved.seed, saved.id, saved.kind, saved.body),
      };
      this.tasks.set(task.id, task);
      this.schedule(task);
    }
    const owedByTask = new Map<string, OwedCallback[]>();
    for (const callback of store.owed()) {
      owedByTask.set(callback.taskId, [...(owedByTask.get(callback.taskId) ?? []), callback]);
    }
    for (const owed of owedByTask.values()) this.deliverLogged(owed);
    const owedCount = [...owedByTask.values()].reduce((sum, list) => sum + list.length, 0);
    if (this.tasks.size > 0) {
      const tasks = `${this.tasks.size} task${this.tasks.size === 1 ? '' : 's'}`;
      const owed = `${owedCount} callback${owedCount === 1 ? '' : 's'} owed`;
      this.options.log.info(
        { tasks: this.tasks.size, owedCallbacks: owedCount },
        `restored ${tasks}, ${owed}`,
      );
    }
  }

  private persist(task: SimTask): void {
    if (!this.options.store) return;
    const { content: _content, ...stored } = task;
    this.options.store.saveTask(stored);
  }

  /** Multiplies every provider timing: phases, callback delays, redeliveries, Retry-After. */
  get timeScale(): number {
    return this.options.timeScale;
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
      seed: this.seed,
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
    this.plan(task);
    if (this.options.store) this.options.store.submissions = this.submissions;
    this.persist(task);
    this.schedule(task);
    return { outcome: 'created', task };
  }

  /** Decides whether this query of the task meets a transient error (numbered per task). */
  queryFault(task: SimTask): TransientFault | undefined {
    const decision = `transient-query:${task.queries++}`;
    this.persist(task);
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

  /** Fixes when each phase (and each planned fault) happens, in scaled ms after submission. */
  private plan(task: SimTask): void {
    const timeline = KIND_TIMELINES[task.kind];
    const lastPhase = task.plan.failure?.atPhase ?? timeline.length - 1;
    const times = timeline.slice(0, lastPhase + 1).map((phase) => {
      // ±10 %, so tasks submitted together do not all finish on the same millisecond.
      const jitter = 0.9 + 0.2 * decisionRandom(this.seed, task.id, `timing:${phase.name}`)();
      return this.scaled(phase.atMs * jitter);
    });
    times.forEach((atMs, index) => {
      const phase = index === task.plan.failure?.atPhase ? 'error' : timeline[index]?.name;
      if (phase) task.schedule[phase] = Math.round(atMs);
    });
    const [first = 0, second = first, third = second] = times;
    if (task.plan.prematureComplete) {
      // Songs: after the stream URL, well before the real completion; other kinds: half-way.
      task.schedule.premature = Math.round(times.length > 1 ? second + (third - second) / 4 : first / 2);
    }
    if (task.plan.forgedCallback) task.schedule.forged = Math.round(first / 2);
  }

  /** Starts the timers of the phases not reached yet, measured from submission (so a restart loses no time). */
  private schedule(task: SimTask): void {
    if (isSettled(task)) return;
    const timeline = KIND_TIMELINES[task.kind];
    const lastPhase = task.plan.failure?.atPhase ?? timeline.length - 1;
    const elapsed = Date.now() - task.createdAt;
    const wait = (atMs: number) => Math.max(0, atMs - elapsed);
    const timers: (NodeJS.Timeout | undefined)[] = [];
    for (let index = task.phasesDone.length; index <= lastPhase; index++) {
      const phase = index === task.plan.failure?.atPhase ? 'error' : timeline[index]?.name;
      const atMs = (phase && task.schedule[phase]) ?? 0;
      timers.push(this.timers.after(wait(atMs), () => this.emit(task, [this.reach(task, index)])));
    }
    const { premature, forged } = task.schedule;
    if (premature !== undefined && premature >= elapsed) {
      timers.push(this.timers.after(wait(premature), () => this.sendPremature(task)));
    }
    if (forged !== undefined && forged >= elapsed) {
      this.timers.after(wait(forged), () => this.sendForged(task));
    }
    this.phaseTimers.set(task.id, timers);
  }

  /** Moves the task to phase `index` of its timeline (or its planned failure) and names the callback due. */
  private reach(task: SimTask, index: number): CallbackPhase {
    const failure = task.plan.failure;
    if (failure?.atPhase === index) {
      task.status = failure.status;
      task.failure = failure;
      this.persist(task);
      return 'error';
    }
    const phase = KIND_TIMELINES[task.kind][index];
    if (!phase) throw new Error(`${task.kind} has no phase ${index}`);
    task.status = phase.status;
    task.phasesDone.push(phase.name);
    this.persist(task);
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

  /**
   * Owes the phases' callbacks (applying each phase's drop, delay and duplicate faults), stores
   * them, then sends them one after the other.
   */
  private async dispatch(task: SimTask, phases: CallbackPhase[]): Promise<void> {
    const owed: OwedCallback[] = [];
    let dueAt = Date.now();
    for (const phase of phases) {
      const faults = task.plan.callbacks[phase];
      if (faults.drop) {
        this.options.stats.callbacks(task.id).dropped++;
        continue;
      }
      dueAt += this.scaled(faults.extraDelayMs);
      const body = callbackBody(task, phase, faults.wrapped);
      for (let copy = 1; copy <= faults.copies; copy++) {
        const id = `${task.id}:${phase}:${copy}`;
        owed.push({ id, taskId: task.id, phase, copy, url: task.callBackUrl, body, attempt: 1, dueAt });
      }
    }
    for (const callback of owed) this.options.store?.saveOwed(callback);
    await this.deliver(owed);
  }

  /** Sends owed callbacks in order, each when due; a reset or close stops the rest. */
  private async deliver(owed: OwedCallback[]): Promise<void> {
    const generation = this.generation;
    for (const callback of owed) {
      const wait = callback.dueAt - Date.now();
      if (wait > 0) await this.timers.sleep(wait);
      if (generation !== this.generation) return;
      const task = this.tasks.get(callback.taskId);
      await this.courier.send(
        {
          taskId: callback.taskId,
          createdAt: task?.createdAt ?? callback.dueAt,
          url: callback.url,
          phase: callback.phase,
          body: callback.body,
          copy: callback.copy,
          forged: false,
          premature: false,
          owedId: callback.id,
        },
        callback.attempt,
      );
    }
  }

  private deliverLogged(owed: OwedCallback[]): void {
    this.deliver(owed).catch((error: unknown) => {
      this.options.log.error({ err: error, taskId: owed[0]?.taskId }, 'callback dispatch failed');
    });
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
    this.options.store?.clear();
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
