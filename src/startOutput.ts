import { prettyFactory } from 'pino-pretty';
import { type LogFormat, prettyOptions } from './observability/logging.ts';

/** Start-up announcements the banner replaces: on a terminal they are not news. */
const STARTUP_CHATTER: readonly RegExp[] = [
  /^Server listening at /,
  /^worker polling /,
  /^provider simulator (listening on|ready)/,
  // The Temporal CLI's own banner.
  /^CLI \S+ \(Server /,
  /^(Server|UI|Metrics):\s/,
];

/** Temporal's zap logger writes `"level":"error"`: as pino's numbers, so every line reads alike. */
const LEVELS: Readonly<Record<string, number>> = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * How `npm start` shows one line of a part's output: readable (time, part, level, message, task
 * id) in `pretty`, one JSON object with a `part` field in `json`; undefined hides it.
 */
export function partOutput(
  format: LogFormat,
  colorize: boolean,
): (part: string, line: string, stream?: 'stdout' | 'stderr') => string | undefined {
  const pretty = prettyFactory(prettyOptions(colorize));
  return (part, line, stream = 'stdout') => {
    // A plain line says its level when it is logfmt (Temporal's server); else stderr is an error.
    const named = LEVELS[/\blevel=(\w+)/.exec(line)?.[1]?.toLowerCase() ?? ''];
    const plainLevel = named ?? (stream === 'stderr' ? 50 : 30);
    if (!line.trim()) return undefined;
    const entry = parseJsonLine(line);
    if (entry && typeof entry.level === 'string') entry.level = LEVELS[entry.level] ?? 30;
    if (format === 'json') {
      return JSON.stringify(
        entry ? { part, ...entry } : { level: plainLevel, time: Date.now(), part, msg: line },
      );
    }
    const message = typeof entry?.msg === 'string' ? entry.msg : line;
    if (STARTUP_CHATTER.some((pattern) => pattern.test(message))) return undefined;
    return pretty({ ...(entry ?? { level: plainLevel, time: Date.now(), msg: line }), name: part }).trimEnd();
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
