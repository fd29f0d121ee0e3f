/**
 * startTracing starts the real NodeSDK, which registers OpenTelemetry globals; it lives in its
 * own file (jest gives each file its own globals) so tracing.test.ts keeps its test providers.
 */
import http from 'node:http';
import { trace } from '@opentelemetry/api';
import { startTracing, tracesExporterConfigured, tracer } from '../../../../connectors/observability/tracing';

// The tests run in a copy of the environment without its OTEL_* variables; the real one is put back after.
const realEnv = process.env;

beforeAll(() => {
  process.env = Object.fromEntries(Object.entries(realEnv).filter(([k]) => !k.startsWith('OTEL_')));
});

afterAll(() => {
  process.env = realEnv;
});

describe('tracesExporterConfigured', () => {
  it.each([
    [{}, false],
    [{ OTEL_TRACES_EXPORTER: '' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_SERVICE_NAME: 'x' }, false],
  ])('when the environment is %j, then configured is %s', (env, expected) => {
    expect(tracesExporterConfigured(env)).toBe(expected);
  });
});

describe('startTracing', () => {
  it('when disabled, then nothing is registered and stop resolves', async () => {
    const stop = await startTracing({ enabled: false, serviceName: 'pems-sync-test' });
    const span = tracer().startSpan('x');
    expect(span.isRecording()).toBe(false);
    span.end();
    await expect(stop()).resolves.toBeUndefined();
  });

  it('when enabled without any OTEL_* exporter variable, then it starts with no exporter, makes no request, and stops idempotently', async () => {
    // The OTLP default would POST to localhost:4318; a server there must see nothing.
    const requests: string[] = [];
    const collector = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end();
    });
    const listening = await new Promise<boolean>((resolve) => {
      collector.once('error', () => resolve(false));
      collector.listen(4318, '127.0.0.1', () => resolve(true));
    });
    try {
      const stop = await startTracing({ enabled: true, serviceName: 'pems-sync-test' }, {});
      const span = tracer().startSpan('no-exporter');
      // No span processor means NodeSDK registers no tracer provider: spans are not recorded.
      expect(span.isRecording()).toBe(false);
      span.end();
      const first = stop();
      expect(stop()).toBe(first);
      await first;
      if (listening) expect(requests).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
      trace.disable();
    }
  });

  it('when enabled with OTEL_TRACES_EXPORTER=console, then spans are recorded and exported on stop', async () => {
    process.env.OTEL_TRACES_EXPORTER = 'console';
    // The console exporter (SimpleSpanProcessor) exports once the resource's async attributes
    // settle, which can be after span.end(): wait for the print rather than assume it is synchronous.
    let printedSpan: (value: unknown) => void = () => undefined;
    const exported = new Promise<unknown>((resolve) => (printedSpan = resolve));
    const printed = jest.spyOn(console, 'dir').mockImplementation((obj: unknown) => printedSpan(obj));
    try {
      const stop = await startTracing({ enabled: true, serviceName: 'pems-sync-test' });
      const span = tracer().startSpan('exported');
      expect(span.isRecording()).toBe(true);
      span.end();
      expect(await exported).toMatchObject({
        name: 'exported',
        resource: { attributes: expect.objectContaining({ 'service.name': 'pems-sync-test' }) },
      });
      await stop();
    } finally {
      delete process.env.OTEL_TRACES_EXPORTER;
      printed.mockRestore();
      trace.disable();
    }
  });
});
