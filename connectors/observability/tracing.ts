/**
 * OpenTelemetry tracing: the SDK (only when enabled), the project's tracer, W3C trace context
 * in Kafka headers, and a span helper.
 *
 * The API calls (tracer, inject/extract, withSpan) are safe without the SDK: they use whatever
 * is registered globally and are no-ops otherwise, so library code never checks a flag.
 */
import {
  context,
  propagation,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';

export interface TracingOptions {
  /** config otel.enabled; when false nothing is started. */
  enabled: boolean;
  /** config otel.serviceName (service.name of spans). */
  serviceName: string;
}

/** Kafka message headers as kafkajs types them (IHeaders): values may be Buffers or arrays. */
export type KafkaHeaders = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

const TRACER_NAME = 'pems-sync';

function isSet(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = env[name];
  return v !== undefined && v.trim() !== '';
}

/**
 * Whether the standard OTEL_* variables ask for a span exporter. NodeSDK falls back to an OTLP
 * exporter on localhost:4318 when OTEL_TRACES_EXPORTER is unset (sdk-node utils.js
 * getSpanProcessorsFromEnv); we only want that when someone configured it, so that tests and
 * local runs never try the network.
 */
export function tracesExporterConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    isSet(env, 'OTEL_TRACES_EXPORTER') ||
    isSet(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ||
    isSet(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  );
}

/**
 * Starts the OpenTelemetry SDK when `enabled`, with exporters from the standard OTEL_* variables,
 * and resolves to an idempotent stop function (flushes and shuts the SDK down).
 * Metrics and logs are not exported through OpenTelemetry unless OTEL_METRICS_EXPORTER /
 * OTEL_LOGS_EXPORTER say so explicitly: metrics are served by prom-client on /metrics and logs
 * go to stdout as JSON (pino); NodeSDK would otherwise default both to OTLP.
 */
export async function startTracing(
  options: TracingOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<() => Promise<void>> {
  if (!options.enabled) return async () => {};
  // Loaded lazily: sdk-node pulls in every exporter (grpc included), which a disabled process
  // and the unit tests should not pay for.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    instrumentations: [],
    ...(tracesExporterConfigured(env) ? {} : { spanProcessors: [] }),
    ...(isSet(env, 'OTEL_METRICS_EXPORTER') ? {} : { metricReaders: [] }),
    ...(isSet(env, 'OTEL_LOGS_EXPORTER') ? {} : { logRecordProcessors: [] }),
  });
  sdk.start();
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= sdk.shutdown());
}

/** The project's tracer ('pems-sync') from the global tracer provider. */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

function headerValue(v: Buffer | string | Array<Buffer | string> | undefined): string | undefined {
  if (v === undefined) return undefined;
  // W3C trace context: a repeated traceparent is invalid anyway; take the first.
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

const kafkaGetter: TextMapGetter<KafkaHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    // Kafka header names are case-sensitive; propagators ask in lower case, producers may not write it so.
    const exact = carrier[key];
    if (exact !== undefined) return headerValue(exact);
    const k = Object.keys(carrier).find((name) => name.toLowerCase() === key.toLowerCase());
    return k === undefined ? undefined : headerValue(carrier[k]);
  },
};

const kafkaSetter: TextMapSetter<KafkaHeaders> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/**
 * Writes the trace context of `ctx` (default: the active one) into Kafka message headers
 * (W3C `traceparent`/`tracestate` with the default propagator) and returns the same object.
 */
export function injectContext<H extends KafkaHeaders>(headers: H, ctx: Context = context.active()): H {
  propagation.inject(ctx, headers, kafkaSetter);
  return headers;
}

/** The context carried by Kafka message headers (values may be Buffers), on top of `base`. */
export function extractContext(headers: KafkaHeaders | undefined, base: Context = context.active()): Context {
  return propagation.extract(base, headers ?? {}, kafkaGetter);
}

/**
 * Runs `fn` in a new active span. A throw (or rejection) is recorded on the span as an
 * exception, the status set to ERROR with its message, and rethrown unchanged. On success the
 * status stays UNSET, as the OpenTelemetry spec asks of instrumentation (OK is for an operator
 * overriding a judgement). The span always ends.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  parent?: Context,
): Promise<T> {
  const run = async (span: Span): Promise<T> => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  };
  return parent === undefined
    ? tracer().startActiveSpan(name, { attributes }, run)
    : tracer().startActiveSpan(name, { attributes }, parent, run);
}
