import type { LogLine } from '../support/processes.ts';

/**
 * Scans the children's output for what nobody handled. Lines are grouped into entries first: a
 * pino JSON line or an SDK line (`<ISO time> [LEVEL] …`) starts one, and the indented lines after
 * it (the SDK prints an error's stack under its warning) belong to it. An entry is a problem when
 * it was logged at error level or above, or when it is raw output that looks like a crash
 * (an uncaught exception or unhandled rejection prints its stack without a logger).
 * Warnings (a retried activity, a refused connection while a peer restarts) are expected under
 * chaos and only counted.
 */
export interface LogEntry {
  process: string;
  incarnation: number;
  text: string;
}

export interface LogScan {
  problems: LogEntry[];
  warnings: number;
  /** Distinct warnings (variable parts blanked), most frequent first. */
  warningKinds: { text: string; count: number }[];
}

const PINO = /^\{.*"level":\s*(\d+)/;
/** The SDK's logger (`… [WARN] …`) and its Rust core's tracing output (`…Z  WARN …`). */
const SDK = /^\d{4}-\d\d-\d\dT[\d:.]+Z?\s+\[?(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\]?\s/;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const CRASH = /unhandled|uncaught|\bError\b|^\s+at .+:\d+:\d+\)?$/im;

type Level = 'info' | 'warn' | 'error' | 'raw';

function levelOf(head: string): Level {
  const pino = PINO.exec(head)?.[1];
  if (pino) return Number(pino) >= 50 ? 'error' : Number(pino) >= 40 ? 'warn' : 'info';
  const sdk = SDK.exec(head)?.[1];
  if (sdk) return sdk === 'ERROR' || sdk === 'FATAL' ? 'error' : sdk === 'WARN' ? 'warn' : 'info';
  return 'raw';
}

/** A warning's gist: its message, with the variable parts (times, ids, numbers) blanked. */
function gist(head: string): string {
  const message =
    /"msg":"([^"]*)"/.exec(head)?.[1] ?? /\bWARN\]?\s+(.*?)(\s+\{|\s+error=|$)/.exec(head)?.[1] ?? head;
  return message.replace(/[0-9a-f]{8,}|\d+/g, '#').slice(0, 120);
}

export function scanLogs(lines: readonly LogLine[]): LogScan {
  const entries: (LogEntry & { level: Level })[] = [];
  for (const { text: coloured, ...line } of lines) {
    const text = coloured.replace(ANSI, '');
    const previous = entries.at(-1);
    const continues =
      previous &&
      previous.process === line.process &&
      previous.incarnation === line.incarnation &&
      /^(\s|[}\])])/.test(text);
    if (continues) previous.text += `\n${text}`;
    else entries.push({ process: line.process, incarnation: line.incarnation, text, level: levelOf(text) });
  }
  const problems = entries.filter(
    (entry) => entry.level === 'error' || (entry.level === 'raw' && CRASH.test(entry.text)),
  );
  const warnings = entries.filter((entry) => entry.level === 'warn');
  const counts = new Map<string, number>();
  for (const entry of warnings) counts.set(gist(entry.text), (counts.get(gist(entry.text)) ?? 0) + 1);
  return {
    problems: problems.map(({ process, incarnation, text }) => ({ process, incarnation, text })),
    warnings: warnings.length,
    warningKinds: [...counts].map(([text, count]) => ({ text, count })).sort((a, b) => b.count - a.count),
  };
}
