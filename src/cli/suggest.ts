import leven from 'leven';

/** The known name closest to a mistyped one, when it is close enough to be what was meant. */
export function closest(typed: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = leven(typed.toLowerCase(), name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  // Two edits for a word of six letters or more, one for shorter ones: beyond that it is a guess.
  const allowed = typed.length >= 6 ? 2 : 1;
  return best && best.distance <= allowed ? best.name : undefined;
}

/** ` (did you mean X?)`, or nothing when no known name is close. */
export function didYouMean(typed: string, known: readonly string[], prefix = ''): string {
  const match = closest(typed, known);
  return match ? ` (did you mean ${prefix}${match}?)` : '';
}
