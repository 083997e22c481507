import { z } from 'zod';
import { type FailureStatus, type TaskKind } from '../provider/kinds.ts';
import { chance, decisionRandom, pickInt, pickOne } from './seeded.ts';
import { FAILURE_DETAILS, KIND_FAILURES, KIND_TIMELINES, type PhaseName } from './timeline.ts';

const probability = z.number().min(0).max(1);

/** Fault probabilities (0..1) and the one delay bound; every field defaults to 0, a clean provider. */
export const faultConfigSchema = z.strictObject({
  /** A callback phase is never sent. */
  dropCallback: probability,
  /** A task sends no callback at all (one draw per task): only polling learns its outcome. */
  silentTask: probability,
  /** A callback phase is sent 3 times. */
  duplicateCallback: probability,
  /** Upper bound of a random extra delay before each callback, in provider milliseconds (scaled). */
  delayCallbackMs: z.number().int().min(0),
  /** A task's callbacks are held until its last phase, then sent in a shuffled order. */
  reorderCallbacks: probability,
  /** A song callback comes wrapped in `{code, msg, data}` rather than bare. */
  wrappedCallbacks: probability,
  /** A task's query answers use snake_case field names. */
  snakeCaseQueries: probability,
  /** A task's `successFlag` is 0/1 rather than a state name (failures keep their name). */
  numericSuccessFlag: probability,
  /** A task's timestamps are epoch milliseconds rather than "YYYY-MM-DD HH:mm:ss". */
  epochTimestamps: probability,
  /** A submit answers 405, 430, 455 or 500 instead of creating a task. */
  transientSubmitError: probability,
  /** A query answers 405, 430, 455 or 500 instead of the task. */
  transientQueryError: probability,
  /** A task ends in a failure state, with an error callback. */
  terminalFailure: probability,
  /** A `complete` callback arrives while the query still says the task is running. */
  prematureComplete: probability,
  /** An extra callback arrives without the callback URL's `token` parameter. */
  forgedCallback: probability,
});

export type FaultConfig = z.infer<typeof faultConfigSchema>;

export const NO_FAULTS: Readonly<FaultConfig> = {
  dropCallback: 0,
  silentTask: 0,
  duplicateCallback: 0,
  delayCallbackMs: 0,
  reorderCallbacks: 0,
  wrappedCallbacks: 0,
  snakeCaseQueries: 0,
  numericSuccessFlag: 0,
  epochTimestamps: 0,
  transientSubmitError: 0,
  transientQueryError: 0,
  terminalFailure: 0,
  prematureComplete: 0,
  forgedCallback: 0,
};

/** What `PUT /__sim/faults` and `SIMULATOR_FAULTS` accept: any subset of the config, and a seed. */
export const faultUpdateSchema = faultConfigSchema.partial().extend({ seed: z.number().int().optional() });

/** The errors a transient fault answers with (PROVIDER.md: all of them are worth a retry). */
export const TRANSIENT_CODES = [405, 430, 455, 500] as const;
export type TransientCode = (typeof TRANSIENT_CODES)[number];

export type CallbackPhase = PhaseName | 'error';

export interface CallbackFaults {
  drop: boolean;
  /** 1, or 3 when duplicated. */
  copies: number;
  /** Unscaled provider milliseconds. */
  extraDelayMs: number;
  wrapped: boolean;
}

export interface FailurePlan {
  status: FailureStatus;
  /** Index in the kind's timeline of the phase the failure replaces. */
  atPhase: number;
  code: number;
  msg: string;
  error: string;
}

/** Every fault decision about one task, drawn once at submission from (seed, taskId, decision). */
export interface FaultPlan {
  failure: FailurePlan | null;
  callbacks: Record<CallbackPhase, CallbackFaults>;
  /** The order callbacks go out in when reordered; null when they go out as they happen. */
  reorderedPhases: CallbackPhase[] | null;
  prematureComplete: boolean;
  forgedCallback: boolean;
  snakeCaseQueries: boolean;
  numericSuccessFlag: boolean;
  epochTimestamps: boolean;
}

/** Draws a task's fault plan; the same (config, seed, taskId, kind) always gives the same plan. */
export function planFaults(config: FaultConfig, seed: number, taskId: string, kind: TaskKind): FaultPlan {
  const draw = (decision: string, p: number) => chance(seed, taskId, decision, p);
  const failure = draw('terminal-failure', config.terminalFailure) ? planFailure(seed, taskId, kind) : null;
  const silent = draw('silent', config.silentTask);
  const callbackFaults = (phase: CallbackPhase): CallbackFaults => ({
    drop: silent || draw(`drop:${phase}`, config.dropCallback),
    copies: draw(`duplicate:${phase}`, config.duplicateCallback) ? 3 : 1,
    extraDelayMs: pickInt(seed, taskId, `delay:${phase}`, 0, config.delayCallbackMs),
    wrapped: draw(`wrapped:${phase}`, config.wrappedCallbacks),
  });
  const sent = sentPhases(kind, failure);
  return {
    failure,
    callbacks: {
      text: callbackFaults('text'),
      first: callbackFaults('first'),
      complete: callbackFaults('complete'),
      error: callbackFaults('error'),
    },
    reorderedPhases:
      sent.length > 1 && draw('reorder', config.reorderCallbacks) ? shuffle(sent, seed, taskId) : null,
    prematureComplete: !failure && draw('premature-complete', config.prematureComplete),
    forgedCallback: draw('forged-callback', config.forgedCallback),
    snakeCaseQueries: draw('snake-case', config.snakeCaseQueries),
    numericSuccessFlag: draw('numeric-success-flag', config.numericSuccessFlag),
    epochTimestamps: draw('epoch-timestamps', config.epochTimestamps),
  };
}

function planFailure(seed: number, taskId: string, kind: TaskKind): FailurePlan {
  const status = pickOne(seed, taskId, 'failure-status', KIND_FAILURES[kind]);
  // A task that could not be created fails before any phase; others may fail mid-way.
  const lastPhase = KIND_TIMELINES[kind].length - 1;
  const atPhase = status === 'CREATE_TASK_FAILED' ? 0 : pickInt(seed, taskId, 'failure-phase', 0, lastPhase);
  return { status, atPhase, ...FAILURE_DETAILS[status] };
}

/** The callback phases a task sends, in the order they happen. */
export function sentPhases(kind: TaskKind, failure: FailurePlan | null): CallbackPhase[] {
  const phases = KIND_TIMELINES[kind].map((phase) => phase.name);
  return failure ? [...phases.slice(0, failure.atPhase), 'error'] : phases;
}

function shuffle(phases: CallbackPhase[], seed: number, taskId: string): CallbackPhase[] {
  const random = decisionRandom(seed, taskId, 'reorder-order');
  const order = [...phases];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as CallbackPhase, order[i] as CallbackPhase];
  }
  // A shuffle that changed nothing would not be a reorder.
  return order.every((phase, i) => phase === phases[i]) ? order.reverse() : order;
}
