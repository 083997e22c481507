import { type TaskKind } from '../provider/kinds.ts';
import { type TaskContent } from './content.ts';
import { type CallbackPhase, type FailurePlan, type FaultPlan } from './faults.ts';
import { type PhaseName } from './timeline.ts';

/** One task as the simulator holds it: what was asked, what was planned, and how far it got. */
export interface SimTask {
  readonly id: string;
  /** The seed the task was made with: its content and faults follow from it. */
  readonly seed: number;
  readonly kind: TaskKind;
  /** The submitted body, `callBackUrl` included (queries echo it as the `param` string). */
  readonly body: Record<string, unknown>;
  readonly callBackUrl: string;
  /** The simulator's own URL as the submitter reached it; media URLs start with it. */
  readonly baseUrl: string;
  readonly createdAt: number;
  readonly plan: FaultPlan;
  readonly content: TaskContent;
  /** When each planned event happens, in scaled milliseconds after submission. */
  readonly schedule: Partial<Record<CallbackPhase | 'premature' | 'forged', number>>;
  status: string;
  phasesDone: PhaseName[];
  /** Set once the planned failure has happened. */
  failure: FailurePlan | null;
  /** Queries answered so far: numbers the per-query fault decisions. */
  queries: number;
}

export const isSettled = (task: SimTask) => task.status === 'SUCCESS' || task.failure !== null;
