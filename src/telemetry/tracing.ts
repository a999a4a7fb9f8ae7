/**
 * OpenTelemetry tracing, off by default. With an OTLP endpoint set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
 * or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`; see settings/settings.ts), `startTracing` loads the SDK
 * (sdk-trace-base, the OTLP/HTTP JSON exporter) and spans are batched and exported. Without one,
 * callers hold `NO_TRACING`: nothing of the SDK is loaded (every import here is type-only; the SDK
 * comes in through `import()`), and a span costs one call that returns undefined.
 *
 * What goes into attributes is the caller's choice and must never be a secret: no query strings (they
 * carry notice signatures and prices), no API keys, no user ids.
 *
 * Callers: the notice routes (http/notice-routes.ts: one span per notice, a child span per event
 * write) and the admin port (api/admin-server.ts: one span per request, named by its route).
 */
import type { Attributes, Span } from '@opentelemetry/api';

export type { Attributes, Span };

export interface Tracing {
  readonly enabled: boolean;
  /** Starts a span (a child of `parent` if given); undefined when tracing is off. The caller ends it. */
  start(name: string, attributes?: Attributes, parent?: Span): Span | undefined;
  /** Runs `fn` in a span that ends when it settles, marked as an error if it throws. */
  inSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T>;
  /** Exports what is batched. */
  flush(): Promise<void>;
  /** Exports what is batched and stops. */
  shutdown(): Promise<void>;
}

export const NO_TRACING: Tracing = {
  enabled: false,
  start: () => undefined,
  inSpan: (_name, _attributes, fn) => fn(undefined),
  flush: async () => {},
  shutdown: async () => {},
};

export interface TracingOptions {
  /** The OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  readonly endpoint: string;
  readonly serviceName: string;
  /** service.instance.id */
  readonly instanceId: string;
  /** Longest a batch waits before it is exported (default 5,000 ms). */
  readonly exportDelayMs?: number;
}

/** Marks a span as failed (status ERROR, with a message that must not hold a secret). */
export function failSpan(span: Span | undefined, message: string): void {
  span?.setStatus({ code: 2 /* SpanStatusCode.ERROR */, message });
}

export async function startTracing(o: TracingOptions): Promise<Tracing> {
  const [api, sdk, resources, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const processor = new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: o.endpoint }), {
    scheduledDelayMillis: o.exportDelayMs ?? 5_000,
  });
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': o.serviceName, 'service.instance.id': o.instanceId }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('rtb-bidder');
  const start = (name: string, attributes?: Attributes, parent?: Span): Span =>
    tracer.startSpan(name, { attributes }, parent ? api.trace.setSpan(api.context.active(), parent) : api.ROOT_CONTEXT);
  return {
    enabled: true,
    start,
    async inSpan(name, attributes, fn) {
      const span = start(name, attributes);
      try {
        return await fn(span);
      } catch (e) {
        failSpan(span, e instanceof Error ? e.name : 'error');
        throw e;
      } finally {
        span.end();
      }
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
