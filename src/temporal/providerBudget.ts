/**
 * The provider's rate limit as one budget for the whole fleet, enforced by Temporal itself: every
 * provider call is an activity on one task queue whose dispatch rate the server limits (a worker
 * option, the same on every worker), in priority order. A 430 met by any worker pauses that queue
 * for every worker through the task queue's API-set rate limit, and every worker puts it back once
 * the pause is over, so the budget recovers even when the worker that paused it is gone.
 */
import type { ConnectionLike } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';

export { CALL_PRIORITY, type CallPurpose } from './callPriority.ts';

/**
 * Share of the provider's limit the fleet dispatches. The server's token bucket holds about one
 * second of calls, so the fullest window of the provider's sliding limit is `burst + rate × window`;
 * at 95 % a 20/10s limit sees at most 21 in the window right after an idle spell and 19 after that.
 */
export const BUDGET_HEADROOM = 0.95;

/** How often each worker checks whether a pause (by any worker) has ended. */
const RECONCILE_EVERY_MS = 1_000;
const COOLDOWN_REASON = 'music-tasks cooldown ';

export interface ProviderBudget {
  requests: number;
  windowMs: number;
}

/** Calls per second the server lets through the provider queue. */
export function dispatchRate(budget: ProviderBudget): number {
  return (budget.requests / (budget.windowMs / 1000)) * BUDGET_HEADROOM;
}

/** A pause as the task queue's config records it, readable by every worker. */
interface Cooldown {
  pausedUntil: number;
}

function readCooldown(reason: string | null | undefined): Cooldown | undefined {
  if (!reason?.startsWith(COOLDOWN_REASON)) return undefined;
  try {
    const parsed = JSON.parse(reason.slice(COOLDOWN_REASON.length)) as Partial<Cooldown>;
    if (typeof parsed.pausedUntil === 'number') return { pausedUntil: parsed.pausedUntil };
  } catch {
    // not ours: left alone
  }
  return undefined;
}

export interface BudgetState {
  /** Calls per second allowed now (the configured rate, lower while cooling down). */
  rate: number;
  source: 'budget' | 'paused' | 'operator';
  pausedUntil?: number;
}

/** Pauses and restores the provider queue for the fleet; one per worker process. */
export class BudgetGovernor {
  private readonly rate: number;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  /** The latest pause this process knows of, so a storm of 430s sets it once. */
  private known: Cooldown | undefined;

  constructor(
    private readonly connection: ConnectionLike,
    private readonly namespace: string,
    private readonly taskQueue: string,
    budget: ProviderBudget,
    private readonly logger?: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.rate = dispatchRate(budget);
  }

  static fromConfig(connection: ConnectionLike, config: Config, logger?: Pick<Logger, 'info' | 'warn'>) {
    return new BudgetGovernor(
      connection,
      config.temporal.namespace,
      config.temporal.providerTaskQueue,
      config.providerBudget,
      logger,
    );
  }

  /** Starts checking for the end of a pause; a restored budget needs no 430 to happen. */
  start(): this {
    this.timer ??= setInterval(() => void this.reconcile(), RECONCILE_EVERY_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The provider said 430/405: every worker stops sending for `retryAfterMs` (at least a second;
   * the provider's own figure of when a slot is free again), then sends at the full budget again.
   * Met again and again (someone else spends the same key), the pauses leave the fleet what is left.
   */
  async rateLimited(retryAfterMs: number | undefined): Promise<void> {
    const now = Date.now();
    const pausedUntil = now + Math.max(1_000, retryAfterMs ?? 2_000);
    // A pause already reaching as far covers this 430 too (many calls meet the same limit).
    if (this.known && this.known.pausedUntil >= pausedUntil - 250) return;
    const cooldown = { pausedUntil };
    this.known = cooldown;
    this.logger?.warn(
      { pauseMs: pausedUntil - now, taskQueue: this.taskQueue },
      'the provider is rate limiting: provider calls paused for the whole fleet',
    );
    await this.setRate(0, cooldown);
  }

  /** What the queue allows now, as the server has it. */
  async state(): Promise<BudgetState> {
    return this.stateOf((await this.describe()).config);
  }

  /** The budget's use across the fleet: allowed and spent rates, calls waiting and the oldest wait. */
  async usage(
    deadlineMs = 3_000,
  ): Promise<{ rate: number; spent: number; waiting: number; oldestWaitSeconds: number }> {
    // A gRPC deadline, not a race: no call is left retrying behind a scrape that gave up.
    const { config, stats } = await this.connection.withDeadline(Date.now() + deadlineMs, () =>
      this.describe(true),
    );
    const age = stats?.approximateBacklogAge;
    return {
      rate: this.stateOf(config).rate,
      spent: stats?.tasksDispatchRate ?? 0,
      waiting: Number(stats?.approximateBacklogCount ?? 0),
      oldestWaitSeconds: Number(age?.seconds ?? 0) + (age?.nanos ?? 0) / 1e9,
    };
  }

  private stateOf(config: proto.temporal.api.taskqueue.v1.ITaskQueueConfig | null | undefined): BudgetState {
    const limit = config?.queueRateLimit;
    if (!limit?.rateLimit) return { rate: this.rate, source: 'budget' };
    const cooldown = readCooldown(limit.metadata?.reason);
    const rate = limit.rateLimit.requestsPerSecond ?? 0;
    if (!cooldown) return { rate, source: 'operator' };
    return { rate, source: 'paused', ...cooldown };
  }

  /** Moves a pause on to its next step once its time has come; leaves any other setting alone. */
  async reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce().finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    try {
      const { config } = await this.describe();
      const limit = config?.queueRateLimit;
      const cooldown = readCooldown(limit?.metadata?.reason);
      if (!limit?.rateLimit || !cooldown) return;
      if (Date.now() >= cooldown.pausedUntil) {
        await this.clear();
        this.logger?.info({ taskQueue: this.taskQueue }, 'provider budget restored');
      }
    } catch (error) {
      this.logger?.warn({ err: error }, 'could not check the provider budget; will try again');
    }
  }

  private async describe(reportStats = false) {
    return this.connection.workflowService.describeTaskQueue({
      namespace: this.namespace,
      taskQueue: {
        name: this.taskQueue,
        kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
      },
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      reportConfig: true,
      reportStats,
    });
  }

  private async setRate(requestsPerSecond: number, cooldown: Cooldown): Promise<void> {
    await this.update({
      rateLimit: { requestsPerSecond },
      reason: `${COOLDOWN_REASON}${JSON.stringify(cooldown)}`,
    });
  }

  /** Removes the API-set limit: the workers' own rate (the configured budget) applies again. */
  private async clear(): Promise<void> {
    this.known = undefined;
    await this.update({ reason: 'music-tasks cooldown over' });
  }

  private async update(
    rateLimitUpdate: proto.temporal.api.workflowservice.v1.UpdateTaskQueueConfigRequest.IRateLimitUpdate,
  ): Promise<void> {
    await this.connection.workflowService.updateTaskQueueConfig({
      namespace: this.namespace,
      identity: `music-tasks-worker@${process.pid}`,
      taskQueue: this.taskQueue,
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      updateQueueRateLimit: rateLimitUpdate,
    });
  }
}
