/**
 * The agent's telemetry: one OpenTelemetry meter provider read by `/metrics`
 * (always) and by an OTLP exporter (when `otlp.enable`), and a tracer
 * provider whose batch processor exports the agent's own spans over OTLP:
 * gRPC to `host:port` as the platform configures it, OTLP/HTTP protobuf for
 * `http(s)://` endpoints.
 *
 * @module
 */

import { trace, type Tracer } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { Metadata } from "@grpc/grpc-js";
import type { OtlpConfig } from "../config/schema.ts";
import { VERSION } from "../version.ts";
import { PullMetricReader, scrape } from "./prometheus.ts";

/** Options for {@linkcode Telemetry}. */
export interface TelemetryOptions {
  otlp: OtlpConfig;
}

/** Where OTLP data goes for one signal. */
export function otlpUrl(otlp: OtlpConfig, signal: "traces" | "metrics"): string {
  if (otlp.protocol === "grpc") {
    return /^https?:\/\//.test(otlp.endpoint) ? otlp.endpoint : `http://${otlp.endpoint}`;
  }
  const base = /^https?:\/\//.test(otlp.endpoint) ? otlp.endpoint : `http://${otlp.endpoint}`;
  const url = new URL(base);
  if (url.pathname === "/" || url.pathname === "") url.pathname = `/v1/${signal}`;
  return url.href;
}

/** `OTEL_EXPORTER_OTLP_HEADERS` as gRPC metadata. */
function grpcMetadata(headers: Record<string, string>): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
  return md;
}

/** The meter and tracer providers, the `/metrics` reader, and their shutdown. */
export class Telemetry {
  readonly name = "telemetry";
  readonly meterProvider: MeterProvider;
  readonly tracer: Tracer;
  readonly #pull = new PullMetricReader();
  readonly #tracerProvider?: BasicTracerProvider;

  constructor(options: TelemetryOptions) {
    const { otlp } = options;
    const resource = resourceFromAttributes({
      "service.name": otlp.service_name,
      "service.version": VERSION,
    });
    const readers: MetricReader[] = [this.#pull];
    if (otlp.enable) {
      const m = otlp.metric;
      const exporterOptions = {
        url: otlpUrl(otlp, "metrics"),
        timeoutMillis: m.timeout,
        headers: otlp.headers,
      };
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: otlp.protocol === "grpc"
            ? new GrpcMetricExporter({
              url: exporterOptions.url,
              timeoutMillis: m.timeout,
              metadata: grpcMetadata(otlp.headers),
            })
            : new ProtoMetricExporter(exporterOptions),
          exportIntervalMillis: m.export_interval,
          exportTimeoutMillis: Math.min(m.export_timeout, m.export_interval),
        }),
      );
      const t = otlp.trace;
      const url = otlpUrl(otlp, "traces");
      const exporter: SpanExporter = otlp.protocol === "grpc"
        ? new GrpcTraceExporter({
          url,
          timeoutMillis: t.timeout,
          metadata: grpcMetadata(otlp.headers),
        })
        : new ProtoTraceExporter({ url, timeoutMillis: t.timeout, headers: otlp.headers });
      this.#tracerProvider = new BasicTracerProvider({
        resource,
        spanProcessors: [
          new BatchSpanProcessor(exporter, {
            maxQueueSize: t.max_queue_size,
            maxExportBatchSize: Math.min(t.max_export_batch_size, t.max_queue_size),
            scheduledDelayMillis: t.schedule_delay,
            exportTimeoutMillis: t.export_timeout,
          }),
        ],
      });
    }
    this.meterProvider = new MeterProvider({ resource, readers });
    const tracerName = Deno.env.get("OTLP_TRACE_NAME") || "service_trace";
    this.tracer = this.#tracerProvider?.getTracer(tracerName, VERSION) ??
      trace.getTracer(tracerName);
  }

  /** The Prometheus text exposition of every metric now. */
  scrape(): Promise<string> {
    return scrape(this.#pull);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Export what is pending (spans, a last metric push) and shut the providers down. */
  async stop(): Promise<void> {
    await Promise.allSettled([this.#tracerProvider?.shutdown(), this.meterProvider.shutdown()]);
  }
}
