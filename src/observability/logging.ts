import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty, { type PrettyOptions } from 'pino-pretty';

/** `json`: one pino JSON line per event; `pretty`: one readable line per event. */
export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT when set; otherwise readable on a terminal and JSON anywhere else (pipes, files, log shippers). */
export function resolveLogFormat(
  configured: LogFormat | undefined,
  stream: { isTTY?: boolean } = process.stdout,
): LogFormat {
  return configured ?? (stream.isTTY ? 'pretty' : 'json');
}

/** The fields worth reading on a terminal, after the message; JSON keeps them all. */
const SHOWN_FIELDS = ['taskId', 'kind', 'status', 'phase', 'outcome', 'bytes', 'files', 'signal'];

/** `message  taskId=… kind=… — error`: what a person scanning a terminal needs from one log line. */
export function describeLogLine(log: Record<string, unknown>, messageKey = 'msg'): string {
  const parts = [scalar(log[messageKey]) ?? ''];
  for (const field of SHOWN_FIELDS) {
    const value = scalar(log[field]);
    if (value !== undefined) parts.push(`${field}=${value}`);
  }
  // pino's `err`, or the Temporal SDK's `error` ("Activity failed", …).
  const error = (log.err ?? log.error) as { message?: unknown } | undefined;
  const message = error && typeof error === 'object' ? scalar(error.message) : undefined;
  if (message) parts.push(`— ${message}`);
  return parts.join('  ');
}

/** A string, number or boolean field as text; anything else is not shown on one line. */
function scalar(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;
}

/** pino-pretty settings for one line per event: time, part, level, message, task id. */
export function prettyOptions(colorize: boolean): PrettyOptions {
  return {
    colorize,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    hideObject: true,
    singleLine: true,
    messageFormat: (log, messageKey) => describeLogLine(log, messageKey),
  };
}

/**
 * A pino logger for one part of the service (`worker`, `server`, …): readable lines on a
 * terminal, JSON otherwise (see {@link resolveLogFormat}).
 */
export function createLogger(
  config: { logLevel: LoggerOptions['level']; logFormat?: LogFormat | undefined },
  name: string,
): Logger {
  const options: LoggerOptions = { level: config.logLevel ?? 'info', name };
  if (resolveLogFormat(config.logFormat) === 'json') return pino(options);
  return pino(options, pretty({ ...prettyOptions(!!process.stdout.isTTY), sync: true }));
}

/** Fastify's `logger` option for the same choice (Fastify builds its own pino instance from it). */
export function fastifyLoggerOptions(
  config: { logLevel: LoggerOptions['level']; logFormat?: LogFormat | undefined },
  extra: LoggerOptions = {},
): LoggerOptions & { stream?: NodeJS.WritableStream } {
  const options: LoggerOptions = { level: config.logLevel ?? 'info', ...extra };
  if (resolveLogFormat(config.logFormat) === 'json') return options;
  return { ...options, stream: pretty({ ...prettyOptions(!!process.stdout.isTTY), sync: true }) };
}

/**
 * Fastify's request log lines at debug, not info: on a terminal one line per request (most of
 * them a client polling) drowns the events. Failed requests stay at error.
 */
export class DebugRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error)
      reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug(`Route ${request.method}:${request.url} not found`);
  }
}
