/**
 * One received series and the arithmetic of its points: cumulative values
 * turned into increments (a value lower than the previous one, or a new
 * start time, is a reset: the new value is the increment since), delta
 * values taken as they come, gauges as their last value. Increments land in
 * the minute of the point's time.
 *
 * A series is a service (the resource's `service.name`), a metric name, its
 * label set and, for histograms, its bucket bounds.
 *
 * @module
 */

import type { Temporality } from "../otlp/metric_points.ts";

/** How a series is kept: increments per minute (counter, histogram) or the last value (gauge). */
export type SeriesKind = "counter" | "gauge" | "histogram";

/** One minute of one series, as written to `metric_rollups`. */
export interface Increment {
  /** Epoch ms at the minute's start. */
  minute: number;
  /** Counter: the minute's increase. Gauge: its last value. Histogram: observations added. */
  value: number;
  /** Histogram: the sum of the observations added (0 otherwise). */
  sum: number;
  /** Histogram: observations added per bucket (`bounds.length + 1` entries). */
  counts?: number[];
  /** Time of the latest point that went into it (epoch ms). */
  at: number;
}

/** A minute's start for an epoch-ms time. */
export function minuteOf(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

/** Label values as text: strings as they are, numbers and booleans printed, the rest as JSON. */
export function labelText(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
    case "bigint":
      return String(v);
    case "undefined":
      return undefined;
    default:
      return v === null ? undefined : JSON.stringify(v);
  }
}

/** The labels of a point as text, in key order. */
export function labelsOf(attributes: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(attributes).sort()) {
    const v = labelText(attributes[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * The key that names a series in memory: service, name, labels in key
 * order and, for histograms, the bounds (`boundsText`: their `join(",")`,
 * when the caller has it). Separators are control characters no label is
 * expected to hold; a key is only compared, never parsed.
 */
export function seriesKey(
  service: string,
  name: string,
  attributes: Record<string, unknown>,
  bounds?: readonly number[],
  boundsText = bounds?.join(","),
): string {
  let key = service + "\u0000" + name;
  const keys = Object.keys(attributes);
  if (keys.length > 1) keys.sort();
  for (const k of keys) {
    const v = labelText(attributes[k]);
    if (v !== undefined) key += "\u0001" + k + "\u0002" + v;
  }
  if (boundsText !== undefined) key += "\u0000" + boundsText;
  return key;
}

/** A short stable id for a series key: 64 bits of two 32-bit string hashes, as 16 hex digits. */
export function seriesId(key: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  h2 = Math.imul(h2 ^ (h2 >>> 13), 0x85ebca6b);
  h2 ^= h2 >>> 16;
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

/** Epoch ms from OTLP epoch nanoseconds as decimal text (`NaN` when not a number; 0 when unset). */
export function nanosToMs(nanos: string): number {
  return Number(nanos) / 1e6;
}

/** What a series is, as stored in `metric_series`. */
export interface SeriesInfo {
  id: string;
  service: string;
  name: string;
  kind: SeriesKind;
  labels: Record<string, string>;
  /** Histogram bucket bounds. */
  bounds?: number[];
  unit: string;
  description: string;
}

/**
 * One series in memory: what it is, the last point of each kind of value
 * (to turn cumulative values into increments), what it shows on
 * `/metrics`, and the minutes it still has to write.
 */
export class Series implements SeriesInfo {
  readonly id: string;
  readonly service: string;
  readonly name: string;
  readonly kind: SeriesKind;
  readonly labels: Record<string, string>;
  readonly bounds?: number[];
  unit: string;
  description: string;
  /** Whether the metric arrived as a monotonic sum with cumulative or delta points. */
  temporality: Temporality = "cumulative";
  /** The last cumulative point's start time (as sent) and time (ms). */
  start = "";
  lastMs = -Infinity;
  /** The last cumulative value: a counter's total or a histogram's count. */
  last = 0;
  lastSum = 0;
  lastCounts?: number[];
  /** What `/metrics` shows: the cumulative value (counter, gauge) or histogram state. */
  total = 0;
  totalSum = 0;
  totalCounts?: number[];
  /** Whether any point has been applied. */
  seen = false;
  /** When it was first and last heard from (receive time, ms). */
  firstHeard = 0;
  heardAt = 0;
  /** The `last_seen` written to the database (0: the series row is not written yet). */
  writtenSeen = 0;
  /** Minutes with increments not yet written, oldest first. */
  pending: Increment[] = [];

  constructor(key: string, info: Omit<SeriesInfo, "id">) {
    this.id = seriesId(key);
    this.service = info.service;
    this.name = info.name;
    this.kind = info.kind;
    this.labels = info.labels;
    this.bounds = info.bounds;
    this.unit = info.unit;
    this.description = info.description;
  }

  /** The increment of minute `minute`, created (counting it in `created`) when missing. */
  increment(minute: number, created: { n: number }): Increment {
    const p = this.pending;
    for (let i = p.length - 1; i >= 0; i--) if (p[i].minute === minute) return p[i];
    const inc: Increment = {
      minute,
      value: 0,
      sum: 0,
      at: -Infinity,
      counts: this.kind === "histogram" ? new Array(this.bounds!.length + 1).fill(0) : undefined,
    };
    created.n++;
    // Keep minutes in order; points almost always come in order, so this is a push.
    let i = p.length;
    while (i > 0 && p[i - 1].minute > minute) i--;
    p.splice(i, 0, inc);
    return inc;
  }
}

/** The outcome of applying one point. */
export type Applied =
  /** Nothing to add: a baseline, a repeat, an out-of-order point, or no change. */
  | "none"
  /** An increment (or a gauge value) for the point's minute. */
  | "added";

/**
 * A counter point: its increase since the series' previous point, or its
 * whole value when it is a delta, after a reset, or when `fresh` says the
 * series began while it was watched.
 *
 * @returns the increase (0 for a baseline or a repeat; `undefined` for a point to ignore).
 */
export function counterIncrease(
  s: Series,
  temporality: Temporality,
  start: string,
  timeMs: number,
  value: number,
  fresh: boolean,
): number | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (temporality === "delta") {
    s.temporality = "delta";
    if (value < 0) return undefined;
    s.total += value;
    s.seen = true;
    return value;
  }
  s.temporality = "cumulative";
  let increase: number;
  if (!s.seen) {
    increase = fresh ? value : 0;
  } else if (start === s.start) {
    if (timeMs < s.lastMs) return undefined; // out of order: its increase is already counted
    increase = value >= s.last ? value - s.last : value; // lower: a reset
  } else {
    if (nanosToMs(start) < nanosToMs(s.start)) return undefined; // a point from before a reset
    increase = value; // a new start time: counting began again
  }
  s.seen = true;
  s.start = start;
  s.lastMs = timeMs;
  s.last = value;
  s.total = value;
  return Math.max(0, increase);
}

/**
 * A histogram point: the observations it adds per bucket (into `into`),
 * by the same rules as {@linkcode counterIncrease}; a count or a bucket
 * lower than before is a reset.
 *
 * @returns observations added (0 for a baseline or a repeat; `undefined` for a point to ignore).
 */
export function histogramIncrease(
  s: Series,
  temporality: Temporality,
  start: string,
  timeMs: number,
  count: number,
  sum: number,
  counts: readonly number[],
  fresh: boolean,
  into: { sum: number; counts: number[] },
): number | undefined {
  const n = s.bounds!.length + 1;
  if (counts.length !== n || !Number.isFinite(count)) return undefined;
  s.totalCounts ??= new Array(n).fill(0);
  if (temporality === "delta") {
    s.temporality = "delta";
    for (let i = 0; i < n; i++) {
      into.counts[i] = counts[i];
      s.totalCounts[i] += counts[i];
    }
    into.sum = sum;
    s.total += count;
    s.totalSum += sum;
    s.seen = true;
    return count;
  }
  s.temporality = "cumulative";
  let whole: boolean;
  if (!s.seen) {
    whole = fresh;
    if (!fresh) {
      for (let i = 0; i < n; i++) into.counts[i] = 0;
      into.sum = 0;
    }
  } else if (start === s.start) {
    if (timeMs < s.lastMs) return undefined;
    whole = count < s.last;
    for (let i = 0; !whole && i < n; i++) if (counts[i] < s.lastCounts![i]) whole = true;
  } else {
    if (nanosToMs(start) < nanosToMs(s.start)) return undefined;
    whole = true;
  }
  let added = 0;
  if (whole) {
    for (let i = 0; i < n; i++) into.counts[i] = counts[i];
    into.sum = sum;
    added = count;
  } else if (s.seen) {
    for (let i = 0; i < n; i++) into.counts[i] = counts[i] - s.lastCounts![i];
    into.sum = sum - s.lastSum;
    added = count - s.last;
  }
  s.seen = true;
  s.start = start;
  s.lastMs = timeMs;
  s.last = count;
  s.lastSum = sum;
  s.lastCounts = counts.slice();
  s.total = count;
  s.totalSum = sum;
  for (let i = 0; i < n; i++) s.totalCounts[i] = counts[i];
  return added;
}
