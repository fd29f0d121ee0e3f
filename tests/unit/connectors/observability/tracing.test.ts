import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type SpanContext,
} from '@opentelemetry/api';
// Transitive dependencies of @opentelemetry/sdk-node (hoisted in node_modules), used only to
// register a real propagator, context manager and tracer provider for these tests.
import { TraceState, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  extractContext,
  injectContext,
  tracer,
  withSpan,
  type KafkaHeaders,
} from '../../../../connectors/observability/tracing';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});

afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

beforeEach(() => exporter.reset());

const PARENT: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  traceState: undefined,
};

describe('injectContext / extractContext', () => {
  it('when the active span is injected into Kafka headers, then traceparent is written in W3C form', () => {
    const headers: KafkaHeaders = { 'content-type': 'application/json' };
    const ctx = trace.setSpanContext(ROOT_CONTEXT, PARENT);
    const out = context.with(ctx, () => injectContext(headers));
    expect(out).toBe(headers);
    expect(headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(headers['content-type']).toBe('application/json');
  });

  it('when headers are injected and then extracted from Buffers (as kafkajs delivers them), then the span context round-trips', () => {
    const headers: KafkaHeaders = {};
    injectContext(headers, trace.setSpanContext(ROOT_CONTEXT, PARENT));
    const received: KafkaHeaders = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, Buffer.from(String(v))]),
    );
    const extracted = trace.getSpanContext(extractContext(received));
    expect(extracted).toMatchObject({
      traceId: PARENT.traceId,
      spanId: PARENT.spanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
  });

  it('when tracestate is present, then it round-trips too', () => {
    const headers: KafkaHeaders = {};
    const traceState = new TraceState('vendor=abc');
    injectContext(headers, trace.setSpanContext(ROOT_CONTEXT, { ...PARENT, traceState }));
    expect(headers.tracestate).toBe('vendor=abc');
    expect(trace.getSpanContext(extractContext(headers))?.traceState?.serialize()).toBe('vendor=abc');
  });

  it('when the header name is capitalised or repeated, then extract still finds the first traceparent', () => {
    const value = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(trace.getSpanContext(extractContext({ Traceparent: Buffer.from(value) }))?.traceId).toBe(PARENT.traceId);
    expect(trace.getSpanContext(extractContext({ traceparent: [Buffer.from(value), 'garbage'] }))?.spanId).toBe(
      PARENT.spanId,
    );
  });

  it('when headers carry no or a malformed traceparent, then no span context is extracted', () => {
    expect(trace.getSpanContext(extractContext({}, ROOT_CONTEXT))).toBeUndefined();
    expect(trace.getSpanContext(extractContext(undefined, ROOT_CONTEXT))).toBeUndefined();
    expect(
      trace.getSpanContext(extractContext({ traceparent: Buffer.from('not-a-traceparent') }, ROOT_CONTEXT)),
    ).toBeUndefined();
  });

  it('when a span is started under an extracted context, then it continues the producer trace', async () => {
    const headers: KafkaHeaders = {};
    injectContext(headers, trace.setSpanContext(ROOT_CONTEXT, PARENT));
    await withSpan('consume', {}, () => undefined, extractContext(headers));
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe(PARENT.traceId);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT.spanId);
  });
});

describe('withSpan', () => {
  it('when fn resolves, then its value is returned, the span ends with its attributes and status UNSET', async () => {
    const result = await withSpan('pems.batch', { 'pems.organization': 'RIO', 'batch.size': 3 }, async (span) => {
      expect(trace.getActiveSpan()).toBe(span);
      return 42;
    });
    expect(result).toBe(42);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('pems.batch');
    expect(span?.attributes).toEqual({ 'pems.organization': 'RIO', 'batch.size': 3 });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.instrumentationScope.name).toBe('pems-sync');
  });

  it('when fn throws, then the same error is rethrown, recorded as an exception, and the status is ERROR', async () => {
    const boom = new TypeError('boom');
    await expect(
      withSpan('fails', {}, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(span?.events).toHaveLength(1);
    expect(span?.events[0]?.name).toBe('exception');
    expect(span?.events[0]?.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'boom' });
  });

  it('when fn rejects with a non-Error, then it is rethrown and recorded as a message', async () => {
    await expect(withSpan('rejects', {}, () => Promise.reject('plain string'))).rejects.toBe('plain string');
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'plain string' });
    expect(span?.events[0]?.attributes).toMatchObject({ 'exception.message': 'plain string' });
  });

  it('when spans nest, then the inner span is a child of the outer one', async () => {
    await withSpan('outer', {}, () => withSpan('inner', {}, () => 'x'));
    const spans = exporter.getFinishedSpans();
    const inner = spans.find((s) => s.name === 'inner');
    const outer = spans.find((s) => s.name === 'outer');
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(inner?.spanContext().traceId).toBe(outer?.spanContext().traceId);
  });

  it('when the tracer is asked for, then it is the pems-sync tracer of the global provider', () => {
    const span = tracer().startSpan('probe');
    span.end();
    expect(exporter.getFinishedSpans()[0]?.instrumentationScope.name).toBe('pems-sync');
  });
});
