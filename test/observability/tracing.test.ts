import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startTracing } from '../../src/observability/tracing.ts';
import { FakeProvider } from '../support/fakeProvider.ts';
import { SAMPLE_INPUTS } from '../support/inputs.ts';
import { startStack } from '../support/stack.ts';

interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** An OTLP/HTTP collector on loopback that keeps every span it is sent (JSON encoding). */
async function startCollector() {
  const spans: ExportedSpan[] = [];
  const services = new Set<string>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.url === '/v1/traces') {
        const parsed = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: ExportedSpan[] }[];
          }[];
        };
        for (const resourceSpans of parsed.resourceSpans) {
          const service = resourceSpans.resource.attributes.find((a) => a.key === 'service.name');
          if (service?.value.stringValue) services.add(service.value.stringValue);
          for (const scope of resourceSpans.scopeSpans) spans.push(...scope.spans);
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    services,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('OpenTelemetry tracing', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  before(async () => {
    collector = await startCollector();
  });
  after(() => collector.close());

  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    assert.equal(startTracing(loadConfig({}), 'music-tasks-worker'), undefined);
  });

  it('exports activity spans and the client spans they start, in one trace, to the OTLP endpoint', async () => {
    const provider = new FakeProvider();
    const stack = await startStack({
      provider,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' },
    });
    let taskId: string;
    try {
      const submitted = await stack.api('POST', '/v1/tasks', { kind: 'lyrics', input: SAMPLE_INPUTS.lyrics });
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      taskId = submitted.body.taskId;
      assert.equal((await stack.api('DELETE', `/v1/tasks/${taskId}`)).status, 202);
      await stack.waitForTask(taskId, (view) => view.status === 'CANCELLED');
    } finally {
      // Stopping the worker flushes the spans it has buffered.
      await stack.close();
    }
    const byName = (name: string) => collector.spans.filter((span) => span.name === name);
    const submit = byName('RunActivity:submitToProvider');
    const track = byName('RunActivity:trackTask');
    const start = byName('StartWorkflow:musicTask');
    assert.equal(submit.length, 1, `spans: ${collector.spans.map((span) => span.name).join(', ')}`);
    assert.equal(track.length, 1);
    assert.equal(start.length, 1, 'trackTask starts the task workflow through the traced client');
    assert.equal(start[0]!.parentSpanId, track[0]!.spanId, 'the start is a child of the activity');
    assert.equal(start[0]!.traceId, track[0]!.traceId);
    assert.ok(collector.services.has('music-tasks-worker'));
  });
});
