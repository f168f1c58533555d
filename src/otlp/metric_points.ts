/**
 * OTLP metrics in one normal form, whichever way they arrived (OTLP/gRPC,
 * OTLP/HTTP protobuf or JSON): what the receiver decodes and the metrics
 * rollups take. Times are epoch nanoseconds as decimal strings (64 bits do
 * not fit a JavaScript number); values are numbers.
 *
 * @module
 */

/** How a sum's points relate to each other (OTLP `AggregationTemporality`). */
export type Temporality = "cumulative" | "delta";

/** One series' point of a counter or up-down counter. */
export interface SumPoint {
  attributes: Record<string, unknown>;
  start_time_unix_nano: string;
  time_unix_nano: string;
  value: number;
}

/** One series' point of a gauge. */
export interface GaugePoint {
  attributes: Record<string, unknown>;
  time_unix_nano: string;
  value: number;
}

/** One series' point of an explicit-bucket histogram. */
export interface HistogramPoint {
  attributes: Record<string, unknown>;
  start_time_unix_nano: string;
  time_unix_nano: string;
  count: number;
  sum?: number;
  /** Upper bounds; `bucket_counts` has one more entry (the +Inf bucket). */
  explicit_bounds: number[];
  bucket_counts: number[];
  min?: number;
  max?: number;
}

/** One metric of one service, with its points. */
export type MetricData =
  | {
    kind: "sum";
    temporality: Temporality;
    monotonic: boolean;
    points: SumPoint[];
  }
  | { kind: "gauge"; points: GaugePoint[] }
  | { kind: "histogram"; temporality: Temporality; points: HistogramPoint[] };

/** A metric as received: its service (resource `service.name`), scope, name and data. */
export type ReceivedMetric = MetricData & {
  /** The resource's `service.name` ("" when unset). */
  service: string;
  /** Every resource attribute (host, pid, `service.name` ...). */
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
  name: string;
  description: string;
  unit: string;
};

/** What one export request decoded to: its metrics, and the points refused with why. */
export interface DecodedMetrics {
  metrics: ReceivedMetric[];
  /** Data points refused (an exponential histogram or summary, a malformed point). */
  rejected: number;
  /** The first refusal, naming the point's path. */
  error?: string;
}

/** Where received metrics go (the rollups); resolves once they are taken. */
export interface MetricsSink {
  /**
   * Take the metrics of one request.
   *
   * @returns how many points were taken and how many were dropped (a series
   *   over the series limit), for the answer's partial success.
   */
  take(metrics: ReceivedMetric[], receivedAt: number): Promise<{ taken: number; dropped: number }>;
}
