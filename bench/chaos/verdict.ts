import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TaskKind } from '../../src/provider/kinds.ts';
import type { FaultPlan } from '../../src/simulator/faults.ts';
import type { TaskView } from '../../src/workflows/state.ts';

/** What `GET /__sim/tasks/:id` says about a task: the truth the service must have reached. */
export interface SimTruth {
  taskId: string;
  kind: TaskKind;
  status: string;
  settled: boolean;
  outcome: string;
  calls: Record<string, number>;
  faults: FaultPlan;
}

export interface TaskVerdict {
  taskId: string;
  kind: TaskKind;
  expected: string;
  actual: string;
  ready: boolean;
  assets: number;
  /** Asset downloads beyond the first (a worker killed mid-download fetches the file again). */
  redownloads: number;
  /** `.part` files a killed download left beside the stored ones. */
  partialFiles: number;
  providerCalls: number;
  polls: number;
  /** The simulator's fault plan for the task. */
  faults: FaultPlan;
  problems: string[];
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Compares the service's view of a task with the simulator's truth, and its stored files with
 * the provider's: the right final state, and each asset stored exactly once with the right bytes.
 */
export async function judgeTask(
  truth: SimTruth,
  view: TaskView | undefined,
  downloadsByFile: Readonly<Record<string, number>>,
): Promise<TaskVerdict> {
  const problems: string[] = [];
  const verdict: TaskVerdict = {
    taskId: truth.taskId,
    kind: truth.kind,
    expected: truth.outcome,
    actual: view?.status ?? 'UNKNOWN',
    ready: view?.ready ?? false,
    assets: view?.assets.length ?? 0,
    redownloads: 0,
    partialFiles: 0,
    providerCalls: Object.values(truth.calls).reduce((sum, count) => sum + count, 0),
    polls: view?.pollCount ?? 0,
    faults: truth.faults,
    problems,
  };
  if (!truth.settled) problems.push(`the simulator never settled it (${truth.status})`);
  if (!view) {
    problems.push('the service does not know the task');
    return verdict;
  }
  if (view.status !== truth.outcome)
    problems.push(`status ${view.status}, the provider says ${truth.outcome}`);
  const succeeded = truth.outcome === 'SUCCESS';
  if (view.ready !== succeeded) problems.push(`ready is ${view.ready}`);
  if (succeeded && truth.kind !== 'lyrics' && view.assets.length === 0) problems.push('no assets stored');
  if (succeeded && truth.kind === 'lyrics' && !view.lyrics?.length) problems.push('no lyrics kept');
  if (new Set(view.assets.map((asset) => asset.id)).size !== view.assets.length) {
    problems.push('an asset is listed twice');
  }

  const expectedFiles = new Set<string>();
  for (const asset of view.assets) {
    expectedFiles.add(asset.name).add(`${asset.name}.json`);
    const downloads = downloadsByFile[new URL(asset.sourceUrl).pathname] ?? 0;
    verdict.redownloads += Math.max(0, downloads - 1);
    let stored: Buffer;
    try {
      stored = await readFile(asset.path);
    } catch {
      problems.push(`${asset.name} is missing from storage`);
      continue;
    }
    if (sha256(stored) !== asset.sha256 || stored.length !== asset.bytes) {
      problems.push(`${asset.name} on disk does not match its recorded checksum`);
    }
    const source = Buffer.from(await (await fetch(asset.sourceUrl)).arrayBuffer());
    if (!source.equals(stored)) problems.push(`${asset.name} differs from the provider's file`);
  }
  const dirs = new Set(view.assets.map((asset) => dirname(asset.path)));
  for (const dir of dirs) {
    for (const name of await readdir(dir)) {
      if (expectedFiles.has(name)) continue;
      if (name.endsWith('.part')) verdict.partialFiles++;
      else problems.push(`unexpected file ${name} in ${dir}`);
    }
  }
  return verdict;
}
