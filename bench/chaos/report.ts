import { TASK_KINDS } from '../../src/provider/kinds.ts';
import { sentPhases } from '../../src/simulator/faults.ts';
import { markdownTable } from '../support/table.ts';
import type { ChaosReport } from './scenario.ts';

const FAULT_NAMES = ['dropped', 'tripled', 'reordered', 'premature', 'failure'] as const;

/** The run as text: outcomes by kind, the faults met, the restarts, the logs, the verdict. */
export function describeChaos(report: ChaosReport): string {
  const { verdicts } = report;
  const rows = TASK_KINDS.map((kind) => {
    const ofKind = verdicts.filter((verdict) => verdict.kind === kind);
    const count = (test: (verdict: (typeof verdicts)[number]) => boolean) => ofKind.filter(test).length;
    const mean = (pick: (verdict: (typeof verdicts)[number]) => number) =>
      ofKind.length
        ? (ofKind.reduce((sum, verdict) => sum + pick(verdict), 0) / ofKind.length).toFixed(1)
        : '-';
    return [
      kind,
      ofKind.length,
      count((verdict) => verdict.expected === 'SUCCESS'),
      count((verdict) => verdict.expected !== 'SUCCESS'),
      count((verdict) => verdict.actual === verdict.expected),
      count((verdict) => verdict.ready),
      ofKind.reduce((sum, verdict) => sum + verdict.assets, 0),
      ofKind.reduce((sum, verdict) => sum + verdict.redownloads, 0),
      mean((verdict) => verdict.providerCalls),
      mean((verdict) => verdict.polls),
      count((verdict) => verdict.problems.length === 0),
    ];
  });
  const outcomes = markdownTable(
    [
      'kind',
      'tasks',
      'SUCCESS',
      'failure',
      'state = simulator',
      'ready',
      'assets',
      're-downloads',
      'provider calls/task',
      'polls/task',
      'ok',
    ],
    rows.filter((row) => Number(row[1]) > 0),
  );
  const restarts = report.disruptions
    .map(
      (disruption) => `${disruption.part} after ${disruption.afterSubmitted} (out ${disruption.outageMs} ms)`,
    )
    .join('; ');
  const retried = report.submissions.filter((submission) => submission.attempts > 1).length;
  const partial = verdicts.reduce((sum, verdict) => sum + verdict.partialFiles, 0);
  const lines = [
    `chaos (${report.shape}): ${report.tasks} tasks, seed ${report.seed}, simulator time scale ${report.timeScale}, ${Math.round(report.durationMs / 1000)} s`,
    '',
    outcomes,
    '',
    `faults met: ${faultCounts(report)}`,
    `restarts (SIGKILL): ${restarts || 'none'}`,
    `submissions retried by the client: ${retried} of ${report.submissions.length}`,
    `partial download files left by killed workers: ${partial}`,
    `log lines: ${report.logs.problems.length} unhandled errors, ${report.logs.warnings} warnings${
      report.logs.warningKinds.length
        ? ` (${report.logs.warningKinds
            .slice(0, 5)
            .map((kind) => `${kind.count}× ${kind.text}`)
            .join('; ')})`
        : ''
    }`,
    '',
    report.failures.length
      ? `FAILED (${report.failures.length}):\n${report.failures.map((failure) => `  - ${failure}`).join('\n')}${
          report.keptDir ? `\n  files kept in ${report.keptDir}` : ''
        }`
      : 'PASSED: every task ended as the simulator says, each asset stored once, no unhandled error logged',
  ];
  return lines.join('\n');
}

function faultCounts(report: ChaosReport): string {
  const counts = Object.fromEntries(FAULT_NAMES.map((name) => [name, 0])) as Record<
    (typeof FAULT_NAMES)[number],
    number
  >;
  for (const verdict of report.verdicts) {
    const plan = verdict.faults;
    const phases = sentPhases(verdict.kind, plan.failure).map((phase) => plan.callbacks[phase]);
    if (phases.some((phase) => phase.drop)) counts.dropped++;
    if (phases.some((phase) => phase.copies > 1)) counts.tripled++;
    if (plan.reorderedPhases) counts.reordered++;
    if (plan.prematureComplete) counts.premature++;
    if (plan.failure) counts.failure++;
  }
  return FAULT_NAMES.map((name) => `${counts[name]} tasks ${name}`).join(', ');
}
