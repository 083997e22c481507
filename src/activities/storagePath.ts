import { createHash } from 'node:crypto';
import { escapeName } from '../workflows/assetPlan.ts';

/** Longest path component kept as it is; a longer one is shortened with a hash of the whole. */
const MAX_COMPONENT = 200;

/** A path component for `text` that no other text shares: escaped, and hashed when too long for a file name. */
export function storageComponent(text: string, escape = true): string {
  const escaped = escape ? escapeName(text) : text;
  if (escaped.length <= MAX_COMPONENT && escaped !== '.' && escaped !== '..') return escaped;
  // `~` never appears in an escaped name: a shortened one cannot meet a kept one.
  return `${escaped.slice(0, 100)}~${createHash('sha256').update(text).digest('hex')}`;
}

/** `<task>/<file>` under a store's root: the task id escaped, the planned file name kept unless too long. */
export function storageKey(spec: { taskId: string; name: string }): string {
  return `${storageComponent(spec.taskId)}/${storageComponent(spec.name, false)}`;
}
