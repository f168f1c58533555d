/**
 * The platform's metric facade (its `Meter` class, `meter.py`) on the
 * OpenTelemetry metrics SDK: the same instrument names and default labels,
 * so dashboards built for astron-agent services read astron-watch too.
 *
 * | kind     | counter                 | latency histogram                         | in flight          |
 * | -------- | ----------------------- | ----------------------------------------- | ------------------ |
 * | `server` | `server_request_total`  | `server_request_time_microseconds` (ms)   | `server_conc`      |
 * | `rely`   | `rely_server_request`   | `rely_server_request_time` (ms)           | `rely_server_conc` |
 *
 * Exactly as the platform's own code records them (its `Meter.in_histogram`,
 * read in `reference/astron-agent-otlp/`), so one dashboard reads the
 * platform's series and ours side by side: both histograms hold
 * **milliseconds** (the "microseconds" name is the platform's, the unit is
 * what its code writes), with the SDK's default buckets; counter points
 * carry `dc` (`SERVICE_LOCATION`, else empty), `server_host`,
 * `server_name`, `app_id`, `func`, `pid` and `ret` (`0` success, else an
 * error code), and histogram points the same without `ret`. `pid` and a
 * numeric `ret` are integers over OTLP.
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
  pid: number;
}

/** Options for {@linkcode defaultLabels}. */
export interface DefaultLabelsOptions {
  serverName: string;
  /** Data-centre label; default `SERVICE_LOCATION`, else empty (as the platform's code). */
  dc?: string;
  /** The host's IP; default the first non-loopback IPv4 address, else `127.0.0.1`. */
  serverHost?: string;
}

/** Build the default labels from options, the environment and the host. */
export function defaultLabels(options: DefaultLabelsOptions): DefaultLabels {
  return {
    dc: options.dc ?? (Deno.env.get("SERVICE_LOCATION") ?? ""),
    server_host: options.serverHost ?? localIp(),
    server_name: options.serverName,
    pid: Deno.pid,
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
        // Milliseconds in both, as the platform records them; the SDK's default buckets.
        description: kind === "server"
          ? "Entry request latency in milliseconds (the platform's unit under this name)."
          : "Dependency call latency in milliseconds.",
      }),
      conc: this.otelMeter.createUpDownCounter(INSTRUMENTS[kind].conc, {
        description: kind === "server"
          ? "Entry requests in flight."
          : "Dependency calls in flight.",
      }),
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

  /** Record only the latency. */
  inHistogram(options: RecordOptions = {}): void {
    this.#family.time.record(this.#latency(options), { ...this.#base, ...options.labels });
  }

  #count(ret: string, options: RecordOptions, histogram: boolean): void {
    // An error code is an integer over OTLP, as the platform sends it; a word stays a word.
    const code = /^-?\d+$/.test(ret) ? Number(ret) : ret;
    this.#family.count.add(options.count ?? 1, { ...this.#base, ret: code, ...options.labels });
    if (histogram) {
      this.#family.time.record(this.#latency(options), { ...this.#base, ...options.labels });
    }
    if (this.#inFlight) {
      this.#inFlight = false;
      this.#family.conc.add(-1, this.#base);
    }
  }

  #latency(options: RecordOptions): number {
    return options.durationMs ?? performance.now() - this.#start;
  }
}
