import type { Logger as SdkLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { Logger } from 'pino';

const PINO_LEVELS = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
} as const satisfies Record<LogLevel, string>;

/**
 * What the SDK reports about a normal start at info or warn: start-up chatter, not news. The
 * post-processing worker registers no workflows on purpose; the webpack report is a build log.
 */
const ROUTINE: readonly RegExp[] = [
  /^No workflows registered, not polling for workflow tasks$/,
  /^No activities registered, not polling for activity tasks$/,
  /^No Nexus services registered, not polling for Nexus tasks$/,
  /^Worker state changed$/,
  /^Workflow bundle created$/,
  /webpack [\d.]+ compiled/,
];

/** The level a line is written at: routine SDK lines go to debug, errors keep theirs. */
export function sdkLogLevel(level: LogLevel, message: string): LogLevel {
  if ((level === 'INFO' || level === 'WARN') && ROUTINE.some((pattern) => pattern.test(message))) {
    return 'DEBUG';
  }
  return level;
}

/**
 * The Temporal SDK's logger, writing through pino: workflow and activity log lines come out as
 * JSON with the SDK's own attributes (`workflowId`, `workflowType`, `activityType`, …) as fields.
 */
export class PinoSdkLogger implements SdkLogger {
  constructor(private readonly pino: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.pino[PINO_LEVELS[sdkLogLevel(level, message)]](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
