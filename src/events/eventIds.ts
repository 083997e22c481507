/**
 * Event ids of the two streams. The per-task stream's id is the event's sequence number. The
 * stream of all tasks orders events by (recorded at, task id, sequence number) and its id is that
 * position, `<epoch ms>-<taskId>-<seq>`; a position between events (a heartbeat's) has an empty
 * task id and sequence 0: every event recorded before that millisecond has been sent.
 */
import { isProviderTaskId } from '../provider/taskId.ts';

export interface Position {
  atMs: number;
  taskId: string;
  seq: number;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.atMs !== b.atMs) return a.atMs < b.atMs ? -1 : 1;
  if (a.taskId !== b.taskId) return a.taskId < b.taskId ? -1 : 1;
  return a.seq - b.seq;
}

export function formatPosition(position: Position): string {
  return `${position.atMs}-${position.taskId}-${position.seq}`;
}

/** The position just before every event recorded at or after `atMs`. */
export function positionAt(atMs: number): Position {
  return { atMs, taskId: '', seq: 0 };
}

const MAX_ID_CHARS = 200;

/** A position as the client sent it back; undefined when it is not one of ours. */
export function parsePosition(text: string): Position | undefined {
  if (text.length > MAX_ID_CHARS) return undefined;
  const match = /^(\d{1,15})-([\w.:-]{0,128})-(\d{1,9})$/.exec(text);
  if (!match) return undefined;
  const [, at = '', taskId = '', seq = ''] = match;
  if (taskId === '' ? seq !== '0' : !isProviderTaskId(taskId) || seq === '0') return undefined;
  return { atMs: Number(at), taskId, seq: Number(seq) };
}

/** A per-task id as the client sent it back: a sequence number, or undefined when it is not one. */
export function parseSeq(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}
