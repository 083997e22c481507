import { prettyFactory } from 'pino-pretty';
import { type LogFormat, prettyOptions } from './observability/logging.ts';

/** Start-up announcements the banner replaces: on a terminal they are not news. */
const STARTUP_CHATTER: readonly RegExp[] = [
  /^Server listening at /,
  /^worker polling /,
  /^provider simulator (listening on|ready)/,
];

/**
 * How `npm start` shows one line of a part's output: readable (time, part, level, message, task
 * id) in `pretty`, one JSON object with a `part` field in `json`; undefined hides it.
 */
export function partOutput(
  format: LogFormat,
  colorize: boolean,
): (part: string, line: string) => string | undefined {
  const pretty = prettyFactory(prettyOptions(colorize));
  return (part, line) => {
    const entry = parseJsonLine(line);
    if (format === 'json') {
      return JSON.stringify(entry ? { part, ...entry } : { level: 30, time: Date.now(), part, msg: line });
    }
    const message = String(entry?.msg ?? line);
    if (STARTUP_CHATTER.some((pattern) => pattern.test(message))) return undefined;
    if (!line.trim()) return undefined;
    return pretty({ ...(entry ?? { level: 30, time: Date.now(), msg: line }), name: part }).trimEnd();
  };
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined; // a line that only looks like JSON is shown as text
  }
}
