/**
 * The agent's telemetry: one OpenTelemetry meter provider read by `/metrics`
 * (always) and by an OTLP exporter (when `otlp.enable`), and a tracer
 * provider whose batch processor exports the agent's own spans over OTLP:
 * gRPC to `host:port` as the platform configures it, OTLP/HTTP protobuf for
 * `http(s)://` endpoints.
 *
 * The OTLP exporters (and gRPC) are loaded in {@linkcode Telemetry.start},
 * only when `otlp.enable`, and only for the protocol in use: they are most of
 * the start-up time of a process that never exports. The meter provider and
 * the tracer exist from the constructor; the push reader and the tracer
 * delegate to what `start()` builds.
 *
 * @module
 */

import { ProxyTracerProvider, trace, type Tracer } from "@opentelemetry/api";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  MeterProvider,
  type MetricCollectOptions,
  MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { OtlpConfig, OtlpSignal } from "../config/schema.ts";
import { VERSION } from "../version.ts";
import { PullMetricReader, scrape } from "./prometheus.ts";

/** Options for {@linkcode Telemetry}. */
export interface TelemetryOptions {
  otlp: OtlpConfig;
}

/** Where one signal's OTLP data goes, and how. */
export interface OtlpTarget {
  url: string;
  protocol: "grpc" | "http/protobuf";
  headers: Record<string, string>;
}

/**
 * Where OTLP data goes for one signal: its own endpoint as given, else the
 * general one, with `/v1/<signal>` appended for OTLP/HTTP (to the base URL's
 * path, as the OTLP spec says: `http://c:4318/otel` -> `/otel/v1/traces`).
 */
export function otlpTarget(otlp: OtlpConfig, signal: OtlpSignal): OtlpTarget {
  const own = otlp.signals[signal] ?? {};
  const protocol = own.protocol ?? otlp.protocol;
  const headers = own.headers ?? otlp.headers;
  const withScheme = (e: string) => /^https?:\/\//.test(e) ? e : `http://${e}`;
  if (own.endpoint) return { url: withScheme(own.endpoint), protocol, headers };
  const base = withScheme(otlp.endpoint);
  if (protocol === "grpc") return { url: base, protocol, headers };
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/${signal}`;
  return { url: url.href, protocol, headers };
}

/** The OTLP exporters for one protocol. */
interface OtlpExporters {
  metrics: PushMetricExporter;
  spans: SpanExporter;
}

/**
 * Load the exporters for `otlp.protocol` (and gRPC only for `grpc`) and build
 * them; `OTEL_EXPORTER_OTLP_HEADERS` go as gRPC metadata or HTTP headers.
 */
async function loadExporters(otlp: OtlpConfig): Promise<OtlpExporters> {
  const traces = otlpTarget(otlp, "traces");
  const metrics = otlpTarget(otlp, "metrics");
  const grpc = traces.protocol === "grpc" || metrics.protocol === "grpc"
    ? await import("@grpc/grpc-js")
    : undefined;
  const metadata = (headers: Record<string, string>) => {
    const md = new grpc!.Metadata();
    for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
    return md;
  };
  const metricOptions = { url: metrics.url, timeoutMillis: otlp.metric.timeout };
  const traceOptions = { url: traces.url, timeoutMillis: otlp.trace.timeout };
  const metricExporter = metrics.protocol === "grpc"
    ? new (await import("@opentelemetry/exporter-metrics-otlp-grpc")).OTLPMetricExporter({
      ...metricOptions,
      metadata: metadata(metrics.headers),
    })
    : new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter({
      ...metricOptions,
      headers: metrics.headers,
    });
  const spanExporter = traces.protocol === "grpc"
    ? new (await import("@opentelemetry/exporter-trace-otlp-grpc")).OTLPTraceExporter({
      ...traceOptions,
      metadata: metadata(traces.headers),
    })
    : new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter({
      ...traceOptions,
      headers: traces.headers,
    });
  return { metrics: metricExporter, spans: spanExporter };
}

/**
 * A metric reader on the meter provider from its construction that pushes
 * through a reader attached later (the periodic OTLP reader, built once its
 * exporter is loaded). Until then nothing collects from it; its temporality
 * is the attached reader's (the exporter's choice).
 */
class DeferredPushReader extends MetricReader {
  readonly #slot: { reader?: MetricReader };

  constructor() {
    const slot: { reader?: MetricReader } = {};
    super({
      aggregationTemporalitySelector: (type) =>
        slot.reader?.selectAggregationTemporality(type) ?? AggregationTemporality.CUMULATIVE,
    });
    this.#slot = slot;
  }

  /** Push through `reader` from now on; it collects from this reader's provider. */
  attach(reader: MetricReader): void {
    reader.setMetricProducer({
      collect: (options?: MetricCollectOptions): Promise<CollectionResult> => this.collect(options),
    });
    this.#slot.reader = reader;
  }

  protected override onForceFlush(): Promise<void> {
    return this.#slot.reader?.forceFlush() ?? Promise.resolve();
  }

  /** Shuts the attached reader down, which pushes a last time through this one. */
  protected override onShutdown(): Promise<void> {
    return this.#slot.reader?.shutdown() ?? Promise.resolve();
  }
}

/** The meter and tracer providers, the `/metrics` reader, and their shutdown. */
export class Telemetry {
  readonly name = "telemetry";
  readonly meterProvider: MeterProvider;
  /** The agent's tracer; with OTLP on, it records once `start()` has built the provider. */
  readonly tracer: Tracer;
  readonly #otlp: OtlpConfig;
  readonly #resource: Resource;
  readonly #pull = new PullMetricReader();
  readonly #push?: DeferredPushReader;
  readonly #tracers?: ProxyTracerProvider;
  #tracerProvider?: { shutdown(): Promise<void> };
  #starting?: Promise<void>;

  constructor(options: TelemetryOptions) {
    const { otlp } = options;
    this.#otlp = otlp;
    this.#resource = resourceFromAttributes({
      "service.name": otlp.service_name,
      "service.version": VERSION,
    });
    const readers: MetricReader[] = [this.#pull];
    if (otlp.enable) {
      this.#push = new DeferredPushReader();
      readers.push(this.#push);
      this.#tracers = new ProxyTracerProvider();
    }
    this.meterProvider = new MeterProvider({ resource: this.#resource, readers });
    const tracerName = Deno.env.get("OTLP_TRACE_NAME") || "service_trace";
    this.tracer = this.#tracers?.getTracer(tracerName, VERSION) ?? trace.getTracer(tracerName);
  }

  /** The Prometheus text exposition of every metric now. */
  scrape(): Promise<string> {
    return scrape(this.#pull);
  }

  /**
   * With `otlp.enable`: load the exporters for the protocol, attach the
   * periodic metric push and build the tracer provider behind `tracer`.
   *
   * @throws when the exporters cannot be loaded or built.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (!this.#push || !this.#tracers) return;
    const [exporters, traceSdk] = await Promise.all([
      loadExporters(this.#otlp),
      import("@opentelemetry/sdk-trace-base"),
    ]);
    const m = this.#otlp.metric;
    this.#push.attach(
      new PeriodicExportingMetricReader({
        exporter: exporters.metrics,
        exportIntervalMillis: m.export_interval,
        exportTimeoutMillis: Math.min(m.export_timeout, m.export_interval),
      }),
    );
    const t = this.#otlp.trace;
    const provider = new traceSdk.BasicTracerProvider({
      resource: this.#resource,
      spanProcessors: [
        new traceSdk.BatchSpanProcessor(exporters.spans, {
          maxQueueSize: t.max_queue_size,
          maxExportBatchSize: Math.min(t.max_export_batch_size, t.max_queue_size),
          scheduledDelayMillis: t.schedule_delay,
          exportTimeoutMillis: t.export_timeout,
        }),
      ],
    });
    this.#tracerProvider = provider;
    this.#tracers.setDelegate(provider);
  }

  /** Export what is pending (spans, a last metric push) and shut the providers down. */
  async stop(): Promise<void> {
    await this.#starting?.catch(() => {});
    await Promise.allSettled([this.#tracerProvider?.shutdown(), this.meterProvider.shutdown()]);
  }
}
