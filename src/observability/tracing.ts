import { createRequire } from 'node:module';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerInterceptors, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config.ts';

/** Interceptors and the workflow span sink of one traced process; `shutdown` flushes what is buffered. */
export interface Tracing {
  clientInterceptors: { workflow: WorkflowClientInterceptor[] };
  /** Activity spans always; workflow spans only when the worker bundles its workflows itself. */
  workerInterceptors: Required<Pick<WorkerInterceptors, 'activity' | 'workflowModules'>>;
  sinks: NonNullable<WorkerOptions['sinks']>;
  shutdown(): Promise<void>;
}

const workflowInterceptorsModule = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);
let contextRegistered = false;

/**
 * OpenTelemetry tracing of client calls, activities and workflows, exported over OTLP/HTTP to
 * OTEL_EXPORTER_OTLP_ENDPOINT. Undefined when that is unset: nothing is loaded onto the hot path.
 */
export function startTracing(
  config: Pick<Config, 'observability'>,
  defaultService: string,
): Tracing | undefined {
  const { otlpEndpoint, serviceName } = config.observability;
  if (!otlpEndpoint) return undefined;
  const resource = new Resource({ 'service.name': serviceName ?? defaultService });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlpEndpoint}/v1/traces` }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The context manager and propagator are process-wide; the tracer below is this worker's own.
  if (!contextRegistered) provider.register();
  contextRegistered = true;
  const options = { tracer: provider.getTracer('music-tasks') };
  return {
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor(options)] },
    workerInterceptors: {
      activity: [
        (context) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(context, options),
          outbound: new OpenTelemetryActivityOutboundInterceptor(context),
        }),
      ],
      workflowModules: [workflowInterceptorsModule],
    },
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: () => provider.shutdown(),
  };
}
