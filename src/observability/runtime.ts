import { Runtime } from '@temporalio/worker';
import type { Config } from '../config.ts';
import { createLogger } from './logging.ts';
import { PinoSdkLogger } from './sdkLogger.ts';

let installed = false;

/**
 * The SDK runtime, once per process (it is a singleton): its log lines through pino at LOG_LEVEL,
 * and its own worker metrics (task slots, polls, latencies) on WORKER_SDK_METRICS_PORT when set.
 */
export function installRuntime(
  config: Pick<Config, 'logLevel' | 'logFormat' | 'host' | 'observability'>,
): void {
  if (installed) return;
  installed = true;
  const port = config.observability.sdkMetricsPort;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  Runtime.install({
    logger: new PinoSdkLogger(createLogger(config, 'temporal')),
    ...(port === undefined
      ? {}
      : { telemetryOptions: { metrics: { prometheus: { bindAddress: `${host}:${port}` } } } }),
  });
}
