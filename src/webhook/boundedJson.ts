import { HttpError } from '../httpErrors.ts';

/** Deepest nesting a callback may have: the provider's bodies are four levels deep. */
export const MAX_CALLBACK_DEPTH = 16;
/** Longest string (key or value) in a callback: lyrics fit, a history-filling blob does not. */
export const MAX_CALLBACK_STRING = 32 * 1024;

/**
 * Refuses JSON text nested deeper than `maxDepth` or holding a string longer than `maxString`,
 * in one pass before it is parsed: no recursion over a hostile body can overflow the stack.
 * @throws HttpError 400 `callback_too_deep` or `callback_field_too_long`
 */
export function assertJsonBounds(
  text: string,
  maxDepth = MAX_CALLBACK_DEPTH,
  maxString = MAX_CALLBACK_STRING,
): void {
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x22) {
      const end = endOfString(text, index + 1);
      if (end - index - 1 > maxString) {
        throw new HttpError(
          400,
          'callback_field_too_long',
          `a string in the callback is over ${maxString} characters`,
        );
      }
      index = end;
    } else if (char === 0x7b || char === 0x5b) {
      if (++depth > maxDepth) {
        throw new HttpError(
          400,
          'callback_too_deep',
          `the callback is nested deeper than ${maxDepth} levels`,
        );
      }
    } else if (char === 0x7d || char === 0x5d) {
      depth--;
    }
  }
}

/** Characters that neither end nor escape: skipped by the regex engine, not one by one. */
const PLAIN = /[^"\\]*/y;

/** The index of the quote that closes the string starting at `from` (or the text's end). */
function endOfString(text: string, from: number): number {
  let at = from;
  for (;;) {
    PLAIN.lastIndex = at;
    PLAIN.test(text);
    at = PLAIN.lastIndex;
    if (text.charCodeAt(at) !== 0x5c) return at;
    at += 2; // a backslash and the character it escapes
  }
}
