/**
 * The platform's metric facade (its `Meter` class, `meter.py`) on the
 * OpenTelemetry metrics SDK: the same instrument names and default labels,
 * so dashboards built for astron-agent services read astron-watch too.
 *
 * | kind     | counter                 | latency histogram                         | in flight          |
 * | -------- | ----------------------- | ----------------------------------------- | ------------------ |
 * | `server` | `server_request_total`  | `server_request_time_microseconds` (µs)   | `server_conc`      |
 * | `rely`   | `rely_server_request`   | `rely_server_request_time` (ms)           | `rely_server_conc` |
 *
 * Every data point carries `dc`, `server_host`, `server_name`, `app_id`,
 * `func`, `pid` and `ret` (`0` success, anything else an error code). The
 * platform records milliseconds into `..._microseconds`; we record true
 * microseconds there. `rely_server_request_time` stays in milliseconds, as
 * the platform records it.
 *
 * @example
 * ```ts
 * import { MeterProvider } from "@opentelemetry/sdk-metrics";
 * const provider = new MeterProvider();
 * const metrics = new PlatformMetrics({ provider, labels: defaultLabels({ serverName: "rpa" }) });
 * const m = metrics.meter({ kind: "server", app_id: "app1", func: "chat" });
 * m.begin();
 * // ... handle the request ...
 * m.inSuccessCount(); // counter ret=0, latency since the meter was made, conc -1
 * ```
 *
 * @module
 */

import type {
  Attributes,
  Counter,
  Histogram,
  Meter as OtelMeter,
  UpDownCounter,
} from "@opentelemetry/api";
import type { MeterProvider } from "@opentelemetry/sdk-metrics";

/** Entry (`server`) or dependency (`rely`) metrics. */
export type MetricKind = "server" | "rely";

/** The platform's default labels, fixed for the process. */
export interface DefaultLabels {
  dc: string;
  server_host: string;
  server_name: string;
  pid: string;
}

/** Options for {@linkcode defaultLabels}. */
export interface DefaultLabelsOptions {
  serverName: string;
  /** Data-centre label; default `OTLP_DC`, then `SERVICE_LOCATION`, then `hf` (the platform's default). */
  dc?: string;
  /** The host's IP; default the first non-loopback IPv4 address, else `127.0.0.1`. */
  serverHost?: string;
}

/** Build the default labels from options, the environment and the host. */
export function defaultLabels(options: DefaultLabelsOptions): DefaultLabels {
  return {
    dc: options.dc ?? (Deno.env.get("OTLP_DC") || Deno.env.get("SERVICE_LOCATION") || "hf"),
    server_host: options.serverHost ?? localIp(),
    server_name: options.serverName,
    pid: String(Deno.pid),
  };
}

/** The first non-internal IPv4 address of this host, or 127.0.0.1. */
export function localIp(): string {
  try {
    const nic = Deno.networkInterfaces().find((n) =>
      n.family === "IPv4" && !n.address.startsWith("127.")
    );
    return nic?.address ?? "127.0.0.1";
  } catch {
    return "127.0.0.1";
  }
}

/** Latency bucket bounds: microseconds for `server`, milliseconds for `rely`. */
export const LATENCY_BUCKETS: Record<MetricKind, number[]> = {
  server: [
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
  ],
  rely: [
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
  ],
};

/** The instrument names of each kind (exactly the platform's). */
export const INSTRUMENTS = {
  server: {
    count: "server_request_total",
    time: "server_request_time_microseconds",
    conc: "server_conc",
  },
  rely: {
    count: "rely_server_request",
    time: "rely_server_request_time",
    conc: "rely_server_conc",
  },
} as const;

interface Family {
  count: Counter;
  time: Histogram;
  conc: UpDownCounter;
  /** Milliseconds to the histogram's unit. */
  scale: number;
}

/** Options for {@linkcode PlatformMetrics}. */
export interface PlatformMetricsOptions {
  provider: MeterProvider;
  labels: DefaultLabels;
}

/** The platform's instruments on one OpenTelemetry meter provider. */
export class PlatformMetrics {
  readonly labels: DefaultLabels;
  readonly otelMeter: OtelMeter;
  readonly #families: Record<MetricKind, Family>;

  constructor(options: PlatformMetricsOptions) {
    this.labels = options.labels;
    this.otelMeter = options.provider.getMeter("astron-watch");
    const family = (kind: MetricKind): Family => ({
      count: this.otelMeter.createCounter(INSTRUMENTS[kind].count, {
        description: kind === "server"
          ? "Entry requests by result code."
          : "Calls to dependencies by result code.",
      }),
      time: this.otelMeter.createHistogram(INSTRUMENTS[kind].time, {
        description: kind === "server"
          ? "Entry request latency in microseconds."
          : "Dependency call latency in milliseconds.",
        advice: { explicitBucketBoundaries: LATENCY_BUCKETS[kind] },
      }),
      conc: this.otelMeter.createUpDownCounter(INSTRUMENTS[kind].conc, {
        description: kind === "server"
          ? "Entry requests in flight."
          : "Dependency calls in flight.",
      }),
      scale: kind === "server" ? 1000 : 1,
    });
    this.#families = { server: family("server"), rely: family("rely") };
  }

  /** A meter for one request or call, timed from now. */
  meter(options: MeterOptions): Meter {
    return new Meter(this.#families[options.kind], { ...this.labels, ...options });
  }
}

/** What one {@linkcode Meter} measures. */
export interface MeterOptions {
  kind: MetricKind;
  app_id?: string;
  func?: string;
  /** More labels on every data point (`probe`, `target`, ...). */
  labels?: Record<string, string>;
}

/** Options for one recording. */
export interface RecordOptions {
  /** Extra labels for this data point. */
  labels?: Record<string, string>;
  /** How many to count; default 1. */
  count?: number;
  /** The latency in ms; default the time since the meter was made. */
  durationMs?: number;
}

/** One request's (or call's) metrics, like the platform's `Meter`. */
export class Meter {
  readonly #family: Family;
  readonly #base: Attributes;
  readonly #start = performance.now();
  #inFlight = false;

  /** @internal made by {@linkcode PlatformMetrics.meter}. */
  constructor(family: Family, options: DefaultLabels & MeterOptions) {
    this.#family = family;
    const { kind: _kind, labels, ...rest } = options;
    this.#base = { app_id: "", func: "", ...rest, ...labels };
  }

  /** Count this request as in flight (`server_conc`/`rely_server_conc` +1) until it is counted. */
  begin(): void {
    if (this.#inFlight) return;
    this.#inFlight = true;
    this.#family.conc.add(1, this.#base);
  }

  /** Count a success (`ret=0`) and record its latency. */
  inSuccessCount(options: RecordOptions = {}): void {
    this.#count("0", options, true);
  }

  /**
   * Count an error with its code (`ret=<code>`); the latency is recorded
   * too unless `inHistogram` is false.
   */
  inErrorCount(code: string | number, options: RecordOptions = {}, inHistogram = true): void {
    this.#count(String(code), options, inHistogram);
  }

  /** Record only the latency (with `ret=0`). */
  inHistogram(options: RecordOptions = {}): void {
    this.#family.time.record(this.#latency(options), {
      ...this.#base,
      ret: "0",
      ...options.labels,
    });
  }

  #count(ret: string, options: RecordOptions, histogram: boolean): void {
    const attrs = { ...this.#base, ret, ...options.labels };
    this.#family.count.add(options.count ?? 1, attrs);
    if (histogram) this.#family.time.record(this.#latency(options), attrs);
    if (this.#inFlight) {
      this.#inFlight = false;
      this.#family.conc.add(-1, this.#base);
    }
  }

  #latency(options: RecordOptions): number {
    const ms = options.durationMs ?? performance.now() - this.#start;
    return ms * this.#family.scale;
  }
}
