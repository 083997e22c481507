import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type TaskKind } from '../provider/kinds.ts';
import { type CallbackPhase, type FailurePlan, type FaultPlan } from './faults.ts';
import { type PhaseName } from './timeline.ts';

/** What a task is on disk: everything but its content, which its seed and body make again. */
export interface StoredTask {
  id: string;
  kind: TaskKind;
  body: Record<string, unknown>;
  callBackUrl: string;
  baseUrl: string;
  createdAt: number;
  /** The seed the task was made with (a later reseed must not change its files). */
  seed: number;
  plan: FaultPlan;
  schedule: Partial<Record<CallbackPhase | 'premature' | 'forged', number>>;
  status: string;
  phasesDone: PhaseName[];
  failure: FailurePlan | null;
  queries: number;
}

/** A callback the provider still owes: sent when due, kept until delivered or given up. */
export interface OwedCallback {
  /** `<taskId>:<phase>:<copy>`: one row per callback copy. */
  id: string;
  taskId: string;
  phase: CallbackPhase;
  copy: number;
  url: string;
  body: unknown;
  /** The attempt to make next (1 for the first). */
  attempt: number;
  /** Epoch milliseconds when that attempt is due. */
  dueAt: number;
}

/**
 * The simulator's tasks and owed callbacks in one SQLite file, so a restart loses neither: a real
 * provider keeps working while we are down. Synchronous (better-sqlite3): each write is one row.
 */
export class SimulatorStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 5_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS owed_callbacks (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, record TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.statements = {
      saveTask: this.db.prepare(
        `INSERT INTO tasks (id, seq, record) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), ?)
         ON CONFLICT (id) DO UPDATE SET record = excluded.record`,
      ),
      tasks: this.db.prepare('SELECT record FROM tasks ORDER BY seq'),
      saveOwed: this.db.prepare(
        `INSERT INTO owed_callbacks (id, task_id, record) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET record = excluded.record`,
      ),
      rescheduleOwed: this.db.prepare(
        `UPDATE owed_callbacks SET record = json_set(record, '$.attempt', ?, '$.dueAt', ?) WHERE id = ?`,
      ),
      dropOwed: this.db.prepare('DELETE FROM owed_callbacks WHERE id = ?'),
      owed: this.db.prepare('SELECT record FROM owed_callbacks ORDER BY rowid'),
      setMeta: this.db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      meta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
    };
  }

  /** Writes the task as it is now (inserted once, in submission order; replaced afterwards). */
  saveTask(task: StoredTask): void {
    this.statements.saveTask.run(task.id, JSON.stringify(task));
  }

  /** Every stored task, in the order they were submitted. */
  tasks(): StoredTask[] {
    return (this.statements.tasks.all() as { record: string }[]).map(
      (row) => JSON.parse(row.record) as StoredTask,
    );
  }

  /** Records a callback the provider now owes. */
  saveOwed(callback: OwedCallback): void {
    this.statements.saveOwed.run(callback.id, callback.taskId, JSON.stringify(callback));
  }

  /** Records that attempt `attempt` of an owed callback is due at `dueAt` (epoch ms). */
  rescheduleOwed(id: string, attempt: number, dueAt: number): void {
    this.statements.rescheduleOwed.run(attempt, Math.round(dueAt), id);
  }

  /** Forgets an owed callback: delivered, or given up after the last redelivery. */
  dropOwed(id: string): void {
    this.statements.dropOwed.run(id);
  }

  /** Every callback still owed, oldest first. */
  owed(): OwedCallback[] {
    return (this.statements.owed.all() as { record: string }[]).map(
      (row) => JSON.parse(row.record) as OwedCallback,
    );
  }

  /** How many submissions the engine has numbered (task ids continue from there). */
  get submissions(): number {
    const row = this.statements.meta.get('submissions') as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  set submissions(count: number) {
    this.statements.setMeta.run('submissions', String(count));
  }

  /** Forgets every task and owed callback (`POST /__sim/reset`). */
  clear(): void {
    this.db.exec('DELETE FROM tasks; DELETE FROM owed_callbacks; DELETE FROM meta;');
  }

  close(): void {
    this.db.close();
  }
}
