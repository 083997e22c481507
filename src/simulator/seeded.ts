import { createHash } from 'node:crypto';

/** A stream of uniform numbers in [0, 1). */
export type Random = () => number;

function digest(...parts: (string | number)[]): Buffer {
  // NUL separators keep ("a", "bc") and ("ab", "c") apart.
  return createHash('sha256').update(parts.join('\u0000')).digest();
}

/**
 * The random stream of one decision. Each (seed, scope, decision) triple gets its own stream, so a
 * decision never depends on how many others were drawn before it, nor on timing.
 */
export function decisionRandom(seed: number, scope: string, decision: string): Random {
  let state = digest(seed, scope, decision).readUInt32LE(0);
  // mulberry32: small, fast, and good enough for fault plans.
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** True with probability `p`, decided by (seed, scope, decision) alone. */
export function chance(seed: number, scope: string, decision: string, p: number): boolean {
  return p > 0 && decisionRandom(seed, scope, decision)() < p;
}

/** An integer in [min, max], decided by (seed, scope, decision) alone. */
export function pickInt(seed: number, scope: string, decision: string, min: number, max: number): number {
  return min + Math.floor(decisionRandom(seed, scope, decision)() * (max - min + 1));
}

/** One of `items`, decided by (seed, scope, decision) alone. */
export function pickOne<T>(seed: number, scope: string, decision: string, items: readonly [T, ...T[]]): T {
  return items[pickInt(seed, scope, decision, 0, items.length - 1)] ?? items[0];
}

/** The provider-style task id (12 hex chars) of the n-th submission under a seed. */
export function taskIdFor(seed: number, submission: number): string {
  return digest(seed, 'task-id', submission).toString('hex').slice(0, 12);
}
