import { Gauge, type Registry } from 'prom-client';
import type { BudgetGovernor } from '../temporal/providerBudget.ts';

/** A scrape must not wait on a slow server: past this the gauges are left empty. */
const DESCRIBE_DEADLINE_MS = 3_000;

/**
 * The fleet's provider budget as the Temporal server sees it, read when scraped: the rate allowed
 * now (lower while a 430 pause lasts), what the fleet spends of it, and the calls waiting for it.
 * One reading for every worker, whichever HTTP replica is scraped.
 */
export function registerBudgetGauges(registry: Registry, governor: BudgetGovernor): void {
  const registers = [registry];
  type Usage = Awaited<ReturnType<BudgetGovernor['usage']>>;
  let reading: { at: number; value: Promise<Usage | undefined> } | undefined;
  // The five gauges of one scrape share one DescribeTaskQueue call.
  const current = (): Promise<Usage | undefined> => {
    if (!reading || Date.now() - reading.at > 1_000) {
      reading = {
        at: Date.now(),
        value: governor.usage(DESCRIBE_DEADLINE_MS).catch(() => undefined),
      };
    }
    return reading.value;
  };
  const gauge = (name: string, help: string, read: (usage: Usage) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.reset();
        const usage = await current();
        if (usage) this.set(read(usage));
      },
    });
  gauge(
    'music_provider_budget_rate',
    'Provider calls per second the fleet may make now (the budget, lower while paused after a 430)',
    (u) => u.rate,
  );
  gauge(
    'music_provider_budget_spent_rate',
    'Provider calls per second the fleet is making (dispatches from the provider queue)',
    (u) => u.spent,
  );
  gauge('music_provider_budget_left_rate', 'Provider calls per second still unspent in the budget', (u) =>
    Math.max(0, u.rate - u.spent),
  );
  gauge(
    'music_provider_calls_waiting',
    'Provider calls (submissions, confirmations, polls) waiting for the budget',
    (u) => u.waiting,
  );
  gauge(
    'music_provider_oldest_wait_seconds',
    'How long the oldest call waiting for the budget has waited',
    (u) => u.oldestWaitSeconds,
  );
}
