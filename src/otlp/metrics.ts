/**
 * OTLP metric requests (`ExportMetricsServiceRequest`), protobuf or JSON, to
 * the normal form of `metric_points.ts` ({@linkcode ReceivedMetric}), and
 * the answers back. Sums, gauges and explicit-bucket histograms are read;
 * an exponential histogram's or a summary's points, and a malformed point,
 * are refused one by one and counted (partial success), the rest kept.
 * A point flagged "no recorded value" carries nothing and is skipped.
 *
 * @module
 */

import type {
  DecodedMetrics,
  GaugePoint,
  HistogramPoint,
  ReceivedMetric,
  SumPoint,
  Temporality,
} from "./metric_points.ts";
import { encodeResponse, requestObject, SERVICES } from "./proto.ts";
import { attributes, eachItem, int, list, nanos, obj, OtlpError, Refusals, str } from "./values.ts";
import { checkBuckets, decodeMetricsWire, temporalityOf } from "./metrics_wire.ts";
import { WireError } from "./protobuf_reader.ts";
import { ShapeError } from "../wire_shape.ts";

const NESTING = { resource: "resourceMetrics", scope: "scopeMetrics", items: "metrics" };

/** `DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK`. */
const NO_RECORDED_VALUE = 1;

/**
 * Decode an `ExportMetricsServiceRequest` in protobuf.
 *
 * @throws {OtlpError} when the bytes are not such a message.
 */
export function decodeMetricsProtobuf(bytes: Uint8Array): DecodedMetrics {
  try {
    return decodeMetricsWire(bytes);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw new OtlpError(`body: not an OTLP ExportMetricsServiceRequest (${err.message})`);
  }
}

/**
 * Read an `ExportMetricsServiceRequest` in OTLP JSON (already parsed).
 *
 * @throws {OtlpError} when the body is not a JSON object, or its nesting
 *   (`resourceMetrics[].scopeMetrics[].metrics[]`) is not well formed.
 */
export function decodeMetricsJson(value: unknown): DecodedMetrics {
  return toMetrics(requestObject(SERVICES.metrics, value));
}

/** The success answer, as protobuf: an `ExportMetricsServiceResponse` with partial success if any. */
export function encodeMetricsResponse(rejected: number, error?: string): Uint8Array<ArrayBuffer> {
  const body = rejected
    ? { partialSuccess: { rejectedDataPoints: rejected, errorMessage: error } }
    : {};
  return encodeResponse(SERVICES.metrics, body);
}

/** The success answer, as OTLP JSON. */
export function metricsJsonResponse(rejected: number, error?: string): Record<string, unknown> {
  return rejected
    ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: error ?? "" } }
    : {};
}

/** How many points the metrics hold. */
export function pointCount(metrics: readonly ReceivedMetric[]): number {
  let n = 0;
  for (const m of metrics) n += m.points.length;
  return n;
}

function toMetrics(body: unknown): DecodedMetrics {
  const metrics: ReceivedMetric[] = [];
  const refusals = new Refusals();
  eachItem(body, NESTING, refusals, (item, path, { resource, scope }) => {
    const m = metric(item, path, resource, scope, refusals);
    if (m) metrics.push(m);
  });
  return { metrics, rejected: refusals.rejected, error: refusals.error };
}

/** The data kinds a metric may hold, and whether we read them. */
const KINDS = ["sum", "gauge", "histogram", "exponentialHistogram", "summary"] as const;

function metric(
  value: unknown,
  path: string,
  resource: Record<string, unknown>,
  scope: { name: string; version: string },
  refusals: Refusals,
): ReceivedMetric | undefined {
  const o = obj(value, path);
  const kind = KINDS.find((k) => o[k] !== undefined && o[k] !== null);
  if (!kind) return undefined; // no data: nothing to keep, nothing refused
  const data = obj(o[kind], `${path}.${kind}`);
  const dataPoints = list(data.dataPoints, `${path}.${kind}.dataPoints`);
  const refuseAll = (message: string) => {
    refusals.add(dataPoints.length, message);
    return undefined;
  };
  if (kind === "exponentialHistogram" || kind === "summary") {
    return refuseAll(`${path}.${kind}: not supported (sum, gauge and histogram are)`);
  }
  let name: string;
  let head: Omit<ReceivedMetric, "kind" | "points" | "temporality" | "monotonic">;
  try {
    name = str(o.name, `${path}.name`);
    if (!name) throw new ShapeError(`${path}.name: missing`);
    const service = resource["service.name"];
    head = {
      service: typeof service === "string" ? service : "",
      resource,
      scope,
      name,
      description: str(o.description, `${path}.description`),
      unit: str(o.unit, `${path}.unit`),
    };
  } catch (err) {
    if (err instanceof ShapeError) return refuseAll(err.message);
    throw err;
  }
  const pp = `${path}.${kind}.dataPoints`;
  if (kind === "gauge") {
    return { ...head, kind, points: points(dataPoints, pp, refusals, gaugePoint) };
  }
  let temporality: Temporality;
  try {
    temporality = temporalityOf(
      data.aggregationTemporality,
      `${path}.${kind}.aggregationTemporality`,
    );
  } catch (err) {
    if (err instanceof ShapeError) return refuseAll(err.message);
    throw err;
  }
  if (kind === "sum") {
    return {
      ...head,
      kind,
      temporality,
      monotonic: data.isMonotonic === true,
      points: points(dataPoints, pp, refusals, sumPoint),
    };
  }
  return { ...head, kind, temporality, points: points(dataPoints, pp, refusals, histogramPoint) };
}

/** Read each point; a malformed one is refused alone. */
function points<P>(
  values: unknown[],
  path: string,
  refusals: Refusals,
  read: (o: Record<string, unknown>, path: string) => P,
): P[] {
  const out: P[] = [];
  values.forEach((v, i) => {
    const p = `${path}[${i}]`;
    try {
      const o = obj(v, p);
      if ((int(o.flags, `${p}.flags`) & NO_RECORDED_VALUE) !== 0) return;
      out.push(read(o, p));
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      refusals.addError(err, p);
    }
  });
  return out;
}

/** A double in OTLP JSON: a number, or the strings "NaN", "Infinity", "-Infinity". */
function double(v: unknown, path: string): number {
  if (typeof v === "number") return v;
  if (v === "NaN" || v === "Infinity" || v === "-Infinity") return Number(v);
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  throw new ShapeError(`${path}: expected a number`);
}

/** A 64-bit integer (protobuf gives decimal strings; JSON strings or numbers). */
function int64(v: unknown, path: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^-?\d{1,20}$/.test(v)) return Number(v);
  throw new ShapeError(`${path}: expected an integer`);
}

/** A count (unsigned 64-bit): 0 when absent. */
function count(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  const n = int64(v, path);
  if (n < 0) throw new ShapeError(`${path}: expected a count, got ${n}`);
  return n;
}

/** A number point's value: `asDouble` or `asInt`, one of them required. */
function numberValue(o: Record<string, unknown>, path: string): number {
  if (o.asDouble !== undefined && o.asDouble !== null) {
    return double(o.asDouble, `${path}.asDouble`);
  }
  if (o.asInt !== undefined && o.asInt !== null) return int64(o.asInt, `${path}.asInt`);
  throw new ShapeError(`${path}: no value (asDouble or asInt)`);
}

function gaugePoint(o: Record<string, unknown>, path: string): GaugePoint {
  return {
    attributes: attributes(o.attributes, `${path}.attributes`),
    time_unix_nano: nanos(o.timeUnixNano, `${path}.timeUnixNano`),
    value: numberValue(o, path),
  };
}

function sumPoint(o: Record<string, unknown>, path: string): SumPoint {
  return {
    attributes: attributes(o.attributes, `${path}.attributes`),
    start_time_unix_nano: nanos(o.startTimeUnixNano, `${path}.startTimeUnixNano`),
    time_unix_nano: nanos(o.timeUnixNano, `${path}.timeUnixNano`),
    value: numberValue(o, path),
  };
}

function histogramPoint(o: Record<string, unknown>, path: string): HistogramPoint {
  const bounds = list(o.explicitBounds, `${path}.explicitBounds`)
    .map((b, i) => double(b, `${path}.explicitBounds[${i}]`));
  const buckets = list(o.bucketCounts, `${path}.bucketCounts`)
    .map((b, i) => count(b, `${path}.bucketCounts[${i}]`));
  checkBuckets(bounds, buckets, () => path);
  const point: HistogramPoint = {
    attributes: attributes(o.attributes, `${path}.attributes`),
    start_time_unix_nano: nanos(o.startTimeUnixNano, `${path}.startTimeUnixNano`),
    time_unix_nano: nanos(o.timeUnixNano, `${path}.timeUnixNano`),
    count: count(o.count, `${path}.count`),
    explicit_bounds: bounds,
    bucket_counts: buckets,
  };
  if (o.sum !== undefined && o.sum !== null) point.sum = double(o.sum, `${path}.sum`);
  if (o.min !== undefined && o.min !== null) point.min = double(o.min, `${path}.min`);
  if (o.max !== undefined && o.max !== null) point.max = double(o.max, `${path}.max`);
  return point;
}
