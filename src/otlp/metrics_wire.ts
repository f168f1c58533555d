/**
 * A direct protobuf reader for `ExportMetricsServiceRequest`: the bytes
 * straight to the receiver's normal form ({@linkcode DecodedMetrics}), with
 * the same answers, refusals and messages as protobufjs' objects read
 * through the JSON form's checks (`metrics.ts`; a test holds the two paths
 * equal), and no object per protobuf message in between. Metric points are
 * the receiver's busiest input.
 *
 * Each level is scanned for its fields first and read after, so fields may
 * come in any order (a metric's name after its points, a resource after its
 * scopes). Fields it does not know are skipped; a known field with the wrong
 * wire type, a length past its message, or a message that does not end
 * where it says are a {@linkcode WireError}. Parts the answer does not use
 * are stepped over as length-delimited fields without being parsed, so bad
 * bytes inside them are not refused as protobufjs would refuse them:
 * exemplars, metric metadata, scope attributes, entity refs, a metric's
 * data kinds other than the one read, and the points of a metric refused
 * whole. The field numbers follow
 * `opentelemetry/proto/metrics/v1/metrics.proto` and `common/v1/common.proto`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type {
  DecodedMetrics,
  GaugePoint,
  HistogramPoint,
  ReceivedMetric,
  SumPoint,
  Temporality,
} from "./metric_points.ts";
import { OtlpError, Refusals } from "./values.ts";
import { ShapeError } from "../wire_shape.ts";
import {
  fields,
  fixed64Number,
  fixed64Text,
  int64Value,
  packed,
  Reader,
  repeated,
  type Span,
  span,
  stringAt,
  text,
  want,
  WireError,
} from "./protobuf_reader.ts";

/**
 * Where the attribute value being read sits, for the one error it can have
 * (nesting too deep): `base`, then `[index]` when at least 0, then `parts`.
 * One for the module: reading is synchronous.
 */
const trail = { base: "", index: -1, parts: [] as (string | number)[] };

function trailText(): string {
  let out = trail.base;
  if (trail.index >= 0) out += `[${trail.index}].attributes`;
  for (const p of trail.parts) out += typeof p === "number" ? `[${p}]` : p;
  return out;
}

/** The deepest `AnyValue` nesting read (as `values.ts`' `anyValue`). */
const MAX_DEPTH = 16;

function tooDeep(): never {
  throw new ShapeError(`${trailText()}: nested too deep`);
}

/**
 * Read the `KeyValue` message ending at `end` into `out` (a key given twice:
 * the last wins); `k` is its index in its list.
 */
function keyValue(
  r: Reader,
  end: number,
  out: Record<string, unknown>,
  k: number,
  depth: number,
): void {
  let key = "";
  let value: Span | undefined;
  const mark = trail.parts.length;
  trail.parts.push(k, ".value");
  const outer = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.varint();
    const f = Math.floor(tag / 8);
    const wire = tag & 7;
    if (f === 1) {
      want(wire, 2, "key");
      const e = r.delimited();
      key = text(r.buf, r.pos, e);
      r.pos = e;
    } else if (f === 2) value = span(r, wire, "value"); // the last one counts
    else r.skip(wire);
  }
  if (r.pos !== end) throw new WireError(`index out of range: ${r.pos} > ${end}`);
  if (value) r.pos = value[0];
  else if (depth > MAX_DEPTH) tooDeep();
  out[key] = value ? anyValueOf(r, value[1], depth) : null;
  r.end = outer;
  trail.parts.length = mark;
}

/**
 * The `AnyValue` message ending at `end` as a plain value, as `values.ts`'
 * `anyValue` reads protobufjs' object: the first set of string, bool, int,
 * double, array, kvlist, bytes wins; none set is null.
 */
function anyValueOf(r: Reader, end: number, depth: number): unknown {
  if (depth > MAX_DEPTH) tooDeep();
  let str: string | undefined;
  let bool: boolean | undefined;
  let int: number | string | undefined;
  let dbl: number | undefined;
  let array: Span | undefined;
  let kvlist: Span | undefined;
  let bytes: Span | undefined;
  const outer = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.varint();
    const wire = tag & 7;
    switch (Math.floor(tag / 8)) {
      case 1:
        str = stringAt(r, wire, "stringValue");
        break;
      case 2:
        want(wire, 0, "boolValue");
        bool = r.varint() !== 0;
        break;
      case 3:
        want(wire, 0, "intValue");
        int = int64Value(r);
        break;
      case 4:
        want(wire, 1, "doubleValue");
        dbl = r.double();
        break;
      case 5:
        array = span(r, wire, "arrayValue");
        break;
      case 6:
        kvlist = span(r, wire, "kvlistValue");
        break;
      case 7:
        bytes = span(r, wire, "bytesValue");
        break;
      default:
        r.skip(wire);
    }
  }
  if (r.pos !== end) throw new WireError(`index out of range: ${r.pos} > ${end}`);
  r.end = outer;
  if (str !== undefined) return str;
  if (bool !== undefined) return bool;
  if (int !== undefined) return int;
  if (dbl !== undefined) return Number.isFinite(dbl) ? dbl : String(dbl);
  if (array) {
    const items = repeated(r, array, 1, "values");
    const out: unknown[] = [];
    trail.parts.push(".arrayValue.values");
    for (let i = 0; i < items.length; i++) {
      trail.parts.push(i);
      r.pos = items[i][0];
      out.push(anyValueOf(r, items[i][1], depth + 1));
      trail.parts.length--;
    }
    trail.parts.length--;
    return out;
  }
  if (kvlist) {
    const items = repeated(r, kvlist, 1, "values");
    const out: Record<string, unknown> = {};
    trail.parts.push(".kvlistValue.values");
    for (let k = 0; k < items.length; k++) {
      r.pos = items[k][0];
      keyValue(r, items[k][1], out, k, depth + 1);
    }
    trail.parts.length--;
    return out;
  }
  if (bytes) {
    const b = r.buf.subarray(bytes[0], bytes[1]);
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
  }
  return null;
}

/**
 * Read the `KeyValue` at the reader (its field's wire type `wire`) into
 * `out`; a value nested too deep is returned as the error, the reader past
 * the field either way.
 */
function attribute(
  r: Reader,
  wire: number,
  out: Record<string, unknown>,
  k: number,
): ShapeError | undefined {
  want(wire, 2, "attributes");
  const end = r.delimited();
  const outer = r.end;
  try {
    keyValue(r, end, out, k, 0);
    return undefined;
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    return err;
  } finally {
    trail.parts.length = 0;
    r.pos = end;
    r.end = outer;
  }
}

/** `DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK`. */
const NO_RECORDED_VALUE = 1;

/** One data point's fields, as scanned (a number point's or a histogram point's). */
interface RawPoint {
  attributes: Record<string, unknown>;
  /** An attribute nested too deep: the point's error, in its turn. */
  attributeError?: ShapeError;
  start: string;
  time: string;
  flags: number;
  asDouble?: number;
  asInt?: number;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts: number[];
  explicitBounds: number[];
}

const readCount = (r: Reader) => fixed64Number(r, false);
const readDouble = (r: Reader) => r.double();

/** Scan the data point in `s`; `trail.base` and `trail.index` name it. */
function scanPoint(r: Reader, s: Span, histogram: boolean): RawPoint {
  const p: RawPoint = {
    attributes: {},
    start: "0",
    time: "0",
    flags: 0,
    count: 0,
    bucketCounts: [],
    explicitBounds: [],
  };
  const attributesField = histogram ? 9 : 7;
  const flagsField = histogram ? 10 : 8;
  let k = 0;
  r.pos = s[0];
  const end = s[1];
  const outer = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.varint();
    const f = Math.floor(tag / 8);
    const wire = tag & 7;
    if (f === attributesField) {
      const err = attribute(r, wire, p.attributes, k++);
      if (err) p.attributeError ??= err;
    } else if (f === 2) (want(wire, 1, "startTimeUnixNano"), p.start = fixed64Text(r));
    else if (f === 3) (want(wire, 1, "timeUnixNano"), p.time = fixed64Text(r));
    else if (f === flagsField) (want(wire, 0, "flags"), p.flags = r.uint32());
    else if (histogram) {
      switch (f) {
        case 4:
          want(wire, 1, "count");
          p.count = fixed64Number(r, false);
          break;
        case 5:
          want(wire, 1, "sum");
          p.sum = r.double();
          break;
        case 6:
          packed(r, wire, "bucketCounts", readCount, p.bucketCounts);
          break;
        case 7:
          packed(r, wire, "explicitBounds", readDouble, p.explicitBounds);
          break;
        case 8:
          span(r, wire, "exemplars");
          break;
        case 11:
          want(wire, 1, "min");
          p.min = r.double();
          break;
        case 12:
          want(wire, 1, "max");
          p.max = r.double();
          break;
        default:
          r.skip(wire);
      }
    } else if (f === 4) (want(wire, 1, "asDouble"), p.asDouble = r.double());
    else if (f === 6) (want(wire, 1, "asInt"), p.asInt = fixed64Number(r, true));
    else if (f === 5) span(r, wire, "exemplars");
    else r.skip(wire);
  }
  if (r.pos !== end) throw new WireError(`index out of range: ${r.pos} > ${end}`);
  r.end = outer;
  return p;
}

/** A point's attributes, or the error one of them had. */
function attributesOf(p: RawPoint): Record<string, unknown> {
  if (p.attributeError) throw p.attributeError;
  return p.attributes;
}

/** The value of a number point, or why it has none. */
function valueOf(p: RawPoint, path: () => string): number {
  if (p.asDouble !== undefined) return p.asDouble;
  if (p.asInt !== undefined) return p.asInt;
  throw new ShapeError(`${path()}: no value (asDouble or asInt)`);
}

/**
 * A histogram point's buckets against its bounds (one count more than
 * bounds, or none; bounds increasing), as both readers check them.
 *
 * @throws {ShapeError} naming the point's field.
 */
export function checkBuckets(
  bounds: readonly number[],
  buckets: readonly number[],
  path: () => string,
): void {
  if (buckets.length && buckets.length !== bounds.length + 1) {
    throw new ShapeError(
      `${path()}.bucketCounts: expected ${
        bounds.length + 1
      } counts for ${bounds.length} bounds, got ${buckets.length}`,
    );
  }
  for (let i = 1; i < bounds.length; i++) {
    if (!(bounds[i] > bounds[i - 1])) {
      throw new ShapeError(`${path()}.explicitBounds: not increasing at [${i}]`);
    }
  }
}

/**
 * An `AggregationTemporality` (a number, its decimal text, or its name in
 * OTLP JSON), as both readers read it.
 *
 * @throws {ShapeError} for one that is neither delta nor cumulative.
 */
export function temporalityOf(v: unknown, path: string): Temporality {
  if (v === 1 || v === "1" || v === "AGGREGATION_TEMPORALITY_DELTA") return "delta";
  if (v === 2 || v === "2" || v === "AGGREGATION_TEMPORALITY_CUMULATIVE") return "cumulative";
  throw new ShapeError(
    `${path}: expected delta (1) or cumulative (2), got ${
      v === undefined || v === null || v === 0 ? "unspecified" : JSON.stringify(v)
    }`,
  );
}

function histogramPointOf(p: RawPoint, path: () => string): HistogramPoint {
  const bounds = p.explicitBounds;
  const buckets = p.bucketCounts;
  checkBuckets(bounds, buckets, path);
  if (p.attributeError) throw p.attributeError;
  const point: HistogramPoint = {
    attributes: p.attributes,
    start_time_unix_nano: p.start,
    time_unix_nano: p.time,
    count: p.count,
    explicit_bounds: bounds,
    bucket_counts: buckets,
  };
  if (p.sum !== undefined) point.sum = p.sum;
  if (p.min !== undefined) point.min = p.min;
  if (p.max !== undefined) point.max = p.max;
  return point;
}

/** The metric data kinds by field number, in the order `metrics.ts` looks for them. */
const KINDS = [
  [7, "sum"],
  [5, "gauge"],
  [9, "histogram"],
  [10, "exponentialHistogram"],
  [11, "summary"],
] as const;

type Head = Omit<ReceivedMetric, "kind" | "points" | "temporality" | "monotonic">;

function metricOf(
  r: Reader,
  s: Span,
  path: string,
  resource: Record<string, unknown>,
  scope: { name: string; version: string },
  refusals: Refusals,
): ReceivedMetric | undefined {
  let name = "";
  let description = "";
  let unit = "";
  const data = new Map<number, Span>();
  fields(r, s, (f, wire) => {
    if (f === 1) name = stringAt(r, wire, "name");
    else if (f === 2) description = stringAt(r, wire, "description");
    else if (f === 3) unit = stringAt(r, wire, "unit");
    else if (f === 5 || f === 7 || f === 9 || f === 10 || f === 11) {
      data.set(f, span(r, wire, "data"));
    } else if (f === 12) span(r, wire, "metadata");
    else r.skip(wire);
  });
  const found = KINDS.find(([f]) => data.has(f));
  if (!found) return undefined; // no data: nothing to keep, nothing refused
  const [field, kind] = found;
  let temporality = 0;
  let monotonic = false;
  const points: Span[] = [];
  fields(r, data.get(field)!, (f, wire) => {
    if (f === 1) points.push(span(r, wire, "dataPoints"));
    else if (f === 2 && (kind === "sum" || kind === "histogram")) {
      want(wire, 0, "aggregationTemporality");
      temporality = r.uint32() | 0;
    } else if (f === 3 && kind === "sum") {
      want(wire, 0, "isMonotonic");
      monotonic = r.varint() !== 0;
    } else r.skip(wire);
  });
  if (kind === "exponentialHistogram" || kind === "summary") {
    refusals.add(points.length, `${path}.${kind}: not supported (sum, gauge and histogram are)`);
    return undefined;
  }
  if (!name) {
    refusals.add(points.length, `${path}.name: missing`);
    return undefined;
  }
  const service = resource["service.name"];
  const head: Head = {
    service: typeof service === "string" ? service : "",
    resource,
    scope,
    name,
    description,
    unit,
  };
  const pp = `${path}.${kind}.dataPoints`;
  if (kind === "gauge") {
    return {
      ...head,
      kind,
      points: readPoints(r, points, pp, refusals, false, (p, at) => ({
        attributes: attributesOf(p),
        time_unix_nano: p.time,
        value: valueOf(p, at),
      } satisfies GaugePoint)),
    };
  }
  let t: Temporality;
  try {
    t = temporalityOf(temporality, `${path}.${kind}.aggregationTemporality`);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    refusals.add(points.length, err.message);
    return undefined;
  }
  if (kind === "sum") {
    return {
      ...head,
      kind,
      temporality: t,
      monotonic,
      points: readPoints(r, points, pp, refusals, false, (p, at) => ({
        attributes: attributesOf(p),
        start_time_unix_nano: p.start,
        time_unix_nano: p.time,
        value: valueOf(p, at),
      } satisfies SumPoint)),
    };
  }
  return {
    ...head,
    kind,
    temporality: t,
    points: readPoints(r, points, pp, refusals, true, histogramPointOf),
  };
}

/** Read each point; one flagged "no recorded value" is skipped, a malformed one refused alone. */
function readPoints<P>(
  r: Reader,
  spans: Span[],
  path: string,
  refusals: Refusals,
  histogram: boolean,
  read: (p: RawPoint, at: () => string) => P,
): P[] {
  const out: P[] = [];
  trail.base = path;
  for (let j = 0; j < spans.length; j++) {
    trail.index = j;
    const p = scanPoint(r, spans[j], histogram);
    if ((p.flags & NO_RECORDED_VALUE) !== 0) continue;
    const at = () => `${path}[${j}]`;
    try {
      out.push(read(p, at));
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      refusals.addError(err, at());
    }
  }
  return out;
}

/**
 * Decode an `ExportMetricsServiceRequest` to the receiver's normal form.
 *
 * @throws {WireError} when the bytes are not such a message.
 * @throws {OtlpError} when a resource's attributes cannot be read (the whole
 *   request is refused, as `metrics.ts` refuses it).
 */
export function decodeMetricsWire(bytes: Uint8Array): DecodedMetrics {
  const r = new Reader(bytes);
  const metrics: ReceivedMetric[] = [];
  const refusals = new Refusals();
  const resources = repeated(r, [0, bytes.length], 1, "resourceMetrics");
  let refused: OtlpError | undefined;
  for (let ri = 0; ri < resources.length; ri++) {
    const rp = `resourceMetrics[${ri}]`;
    let resourceSpan: Span | undefined;
    const scopes: Span[] = [];
    fields(r, resources[ri], (f, wire) => {
      if (f === 1) resourceSpan = span(r, wire, "resource");
      else if (f === 2) scopes.push(span(r, wire, "scopeMetrics"));
      else if (f === 3) stringAt(r, wire, "schemaUrl");
      else r.skip(wire);
    });
    const attrs: number[] = [];
    if (resourceSpan) {
      fields(r, resourceSpan, (f, wire) => {
        if (f === 1) {
          want(wire, 2, "attributes");
          attrs.push(r.pos); // read below, from its length
          r.pos = r.delimited();
        } else if (f === 2) (want(wire, 0, "droppedAttributesCount"), r.varint());
        else if (f === 3) span(r, wire, "entityRefs");
        else r.skip(wire);
      });
    }
    const resource: Record<string, unknown> = {};
    trail.base = `${rp}.resource.attributes`;
    trail.index = -1;
    for (let k = 0; k < attrs.length; k++) {
      r.pos = attrs[k];
      const err = attribute(r, 2, resource, k);
      // The whole request is refused, after the rest is read: bytes that do not parse come first.
      if (err) refused ??= new OtlpError(err.message);
    }
    for (let si = 0; si < scopes.length; si++) {
      let scopeName = "";
      let scopeVersion = "";
      const items: Span[] = [];
      fields(r, scopes[si], (f, wire) => {
        if (f === 1) {
          scopeName = scopeVersion = ""; // the last scope counts, whole
          fields(r, span(r, wire, "scope"), (g, w) => {
            if (g === 1) scopeName = stringAt(r, w, "name");
            else if (g === 2) scopeVersion = stringAt(r, w, "version");
            else if (g === 3) span(r, w, "attributes");
            else if (g === 4) (want(w, 0, "droppedAttributesCount"), r.varint());
            else r.skip(w);
          });
        } else if (f === 2) items.push(span(r, wire, "metrics"));
        else if (f === 3) stringAt(r, wire, "schemaUrl");
        else r.skip(wire);
      });
      const scope = { name: scopeName, version: scopeVersion };
      for (let mi = 0; mi < items.length; mi++) {
        const m = metricOf(
          r,
          items[mi],
          `${rp}.scopeMetrics[${si}].metrics[${mi}]`,
          resource,
          scope,
          refusals,
        );
        if (m) metrics.push(m);
      }
    }
  }
  if (refused) throw refused;
  return { metrics, rejected: refusals.rejected, error: refusals.error };
}
