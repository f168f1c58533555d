/**
 * Reading the rollups back: the per-service summary (`GET /api/v1/services`,
 * `astron-watch services`) and time series of one metric (`GET
 * /api/v1/metrics/query`, `astron-watch metrics query`). Rows come from the
 * database and, in the agent, from the minutes still in memory (an
 * {@linkcode Overlay}); counters and histograms add up, a gauge's latest
 * value wins.
 *
 * The platform's names: requests are `server_request_total` (an error is a
 * `ret` other than `0`), latency is `server_request_time_microseconds`
 * (which holds milliseconds), dependency latency `rely_server_request_time`,
 * concurrency `server_conc`.
 *
 * @module
 */

import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { loadSeries, loadServices, type RollupRow, visitRollups } from "./persist.ts";
import { type Buckets, histogramQuantile, mergeBuckets } from "./quantile.ts";
import type { SeriesInfo, SeriesKind } from "./series.ts";
import type { MetricQuery, ServicesQuery } from "./params.ts";

/** The platform's metric names the services summary reads. */
export const PLATFORM_METRICS = {
  requests: "server_request_total",
  latency: "server_request_time_microseconds",
  relyLatency: "rely_server_request_time",
  concurrency: "server_conc",
} as const;

/** Latency quantiles (in the histogram's unit: the platform's milliseconds) and observations. */
export interface LatencyStats {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  count: number;
}

/** The numbers of a service or one of its functions over the window. */
export interface ServiceStats {
  requests: number;
  requests_per_min: number;
  errors: number;
  /** Errors over requests; null without requests. */
  error_ratio: number | null;
  /** `server_request_time_microseconds` (the platform records milliseconds there). */
  latency_ms: LatencyStats | null;
  /** `rely_server_request_time`, when sent. */
  rely_latency_ms: LatencyStats | null;
  /** `server_conc`, the last value of each series summed, when sent. */
  concurrency: number | null;
}

/** One service: its totals and one entry per `func`. */
export interface ServiceSummary extends ServiceStats {
  service: string;
  /** When it was last heard from (epoch ms). */
  last_seen: number;
  funcs: (ServiceStats & { func: string })[];
}

/** What the services summary answers. */
export interface ServicesResult {
  window_seconds: number;
  /** The window, epoch ms: from the start of its first minute to now. */
  since: number;
  until: number;
  services: ServiceSummary[];
}

/** One group's points: `[epoch ms, value]`, the value null where there is none. */
export interface QuerySeries {
  labels: Record<string, string>;
  points: [number, number | null][];
}

/** What a metric query answers. */
export interface MetricQueryResult {
  name: string;
  kind: SeriesKind | null;
  unit: string;
  /** What the values are: a per-second rate, a quantile, or the last value (summed over the group). */
  value: "rate_per_second" | "quantile" | "last" | null;
  q?: number;
  by: string[];
  since: number;
  until: number;
  step_seconds: number;
  series: QuerySeries[];
}

/** A query that cannot be answered as asked (too many points, a name of two kinds): a 400. */
export class RollupQueryError extends Error {
  override name = "RollupQueryError";
}

/** Series and rows not yet in the database (the agent's unwritten minutes). */
export interface OverlayData {
  series: (SeriesInfo & { lastSeen: number })[];
  rows: RollupRow[];
}

/** What the agent adds to a read: its unwritten minutes for the names asked (all when absent). */
export type Overlay = (
  names: readonly string[] | undefined,
  since: number,
  until: number,
) => OverlayData;

/** What reads the rollups (the agent's component, or the database alone from the shell). */
export interface MetricsReader {
  services(q: ServicesQuery): Promise<ServicesResult>;
  query(q: MetricQuery): Promise<MetricQueryResult>;
  /** The reader's clock (epoch ms), when it has its own: "now" for windows and ranges. */
  now?(): number;
  /** The services summary from memory, when the reader keeps the window there (alert rules). */
  recentServices?(window: number, until: number): ServicesResult | undefined;
  /** Keep windows up to `ms` in memory for {@linkcode MetricsReader.recentServices}. */
  keepRecent?(ms: number): void;
}

/** The group-by key that stands for the metric name (Prometheus' own name for it). */
const NAME = "__name__";

/** Most points one query answers (groups times steps). */
export const MAX_QUERY_POINTS = 500_000;

type Info = SeriesInfo & { lastSeen: number };

/** Per group: the step accumulators of each kind it holds. */
interface Group {
  labels: Record<string, string>;
  /** Counter increases per step. */
  sums?: Float64Array;
  /** Histogram observations per step and bucket, per bound set. */
  hists?: Map<string, { bounds: number[]; counts: Float64Array; total: Float64Array }>;
  /** Gauges: each series' latest value per step. */
  gauges?: Map<string, { at: Float64Array; value: Float64Array }>;
}

/** Rows folded into groups (by label values) and steps. */
class Aggregation {
  readonly groups = new Map<string, Group>();
  readonly #series: Map<string, Info>;
  readonly #groupOf = new Map<string, Group>();
  readonly #since: number;
  readonly #step: number;
  readonly #steps: number;

  constructor(series: Info[], by: readonly string[], since: number, step: number, steps: number) {
    this.#series = new Map(series.map((s) => [s.id, s]));
    this.#since = since;
    this.#step = step;
    this.#steps = steps;
    for (const s of series) {
      const labels: Record<string, string> = {};
      for (const l of by) {
        labels[l] = l === "service" ? s.service : l === NAME ? s.name : s.labels[l] ?? "";
      }
      const key = by.map((l) => labels[l]).join("\u0000");
      let g = this.groups.get(key);
      if (!g) this.groups.set(key, g = { labels });
      this.#groupOf.set(s.id, g);
    }
  }

  add(rows: readonly RollupRow[]): void {
    for (const r of rows) {
      const s = this.#series.get(r.series_id);
      const g = this.#groupOf.get(r.series_id);
      if (!s || !g) continue;
      const i = Math.floor((r.minute - this.#since) / this.#step);
      if (i < 0 || i >= this.#steps) continue;
      if (s.kind === "counter") {
        (g.sums ??= new Float64Array(this.#steps))[i] += r.value;
      } else if (s.kind === "histogram") {
        const bounds = s.bounds ?? [];
        if (!r.counts || r.counts.length !== bounds.length + 1) continue;
        const key = bounds.join(",");
        g.hists ??= new Map();
        let h = g.hists.get(key);
        if (!h) {
          const n = bounds.length + 1;
          g.hists.set(
            key,
            h = {
              bounds,
              counts: new Float64Array(this.#steps * n),
              total: new Float64Array(this.#steps),
            },
          );
        }
        const n = bounds.length + 1;
        for (let b = 0; b < n; b++) h.counts[i * n + b] += r.counts[b];
        h.total[i] += r.value;
      } else {
        g.gauges ??= new Map();
        let v = g.gauges.get(s.id);
        if (!v) {
          v = {
            at: new Float64Array(this.#steps).fill(-Infinity),
            value: new Float64Array(this.#steps),
          };
          g.gauges.set(s.id, v);
        }
        if (r.at >= v.at[i]) {
          v.at[i] = r.at;
          v.value[i] = r.value;
        }
      }
    }
  }
}

/** A group's histogram at step `i` (its bound sets merged), or undefined when it has none. */
function histogramAt(g: Group, i: number): Buckets | undefined {
  if (!g.hists) return undefined;
  const parts: Buckets[] = [];
  for (const h of g.hists.values()) {
    const n = h.bounds.length + 1;
    parts.push({ bounds: h.bounds, counts: h.counts.subarray(i * n, (i + 1) * n) });
  }
  return mergeBuckets(parts);
}

/** Several groups' histograms at step 0 as one. */
function histogramOf(groups: readonly Group[]): Buckets | undefined {
  const parts = groups.map((g) => histogramAt(g, 0)).filter((h): h is Buckets => !!h);
  return mergeBuckets(parts);
}

/** A group's summed gauge at step `i`, NaN when no series has a value there. */
function gaugeAt(g: Group, i: number): number {
  if (!g.gauges) return NaN;
  let sum = 0;
  let any = false;
  for (const v of g.gauges.values()) {
    if (v.at[i] === -Infinity) continue;
    sum += v.value[i];
    any = true;
  }
  return any ? sum : NaN;
}

const finite = (v: number): number | null => Number.isFinite(v) ? v : null;

/** p50/p90/p99 and the observation count of a merged histogram (`null` without one). */
export function latencyStats(h: Buckets | undefined): LatencyStats | null {
  if (!h) return null;
  let count = 0;
  for (let i = 0; i < h.counts.length; i++) count += h.counts[i];
  const quantile = (q: number) => {
    const v = finite(histogramQuantile(q, h));
    return v === null ? null : round(v);
  };
  return { p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99), count };
}

/**
 * Series and rows for `names` in `[since, until)`, from the database and
 * the overlay, series ids deduplicated (the overlay's view of a series wins).
 */
async function gather(
  db: Kysely<Database>,
  overlay: Overlay | undefined,
  names: readonly string[],
  service: string | undefined,
  since: number,
  until: number,
  visit: (series: Info[]) => (rows: RollupRow[]) => void,
): Promise<Info[]> {
  // A series' last_seen is kept to within minutes, so look an hour further back.
  const stored = await loadSeries(db, { names, service, seenSince: since - 3_600_000 });
  const extra = overlay?.(names, since, until);
  const byId = new Map(stored.map((s) => [s.id, s]));
  for (const s of extra?.series ?? []) {
    if (service !== undefined && s.service !== service) continue;
    const old = byId.get(s.id);
    byId.set(s.id, old ? { ...s, lastSeen: Math.max(s.lastSeen, old.lastSeen) } : s);
  }
  const series = [...byId.values()];
  const add = visit(series);
  await visitRollups(db, stored.map((s) => s.id), since, until, add);
  if (extra) add(extra.rows.filter((r) => byId.has(r.series_id)));
  return series;
}

/**
 * Every service heard from (within retention), with requests, errors and
 * latency over `q.window`, in total and per `func`.
 */
export async function readServices(
  db: Kysely<Database>,
  q: ServicesQuery,
  overlay?: Overlay,
): Promise<ServicesResult> {
  const until = q.until;
  const since = Math.floor((until - q.window) / 60_000) * 60_000;
  const span = Math.max(60_000, until - since);
  const lastSeen = new Map<string, number>();
  for (const s of await loadServices(db)) lastSeen.set(s.service, s.lastSeen);
  const names = Object.values(PLATFORM_METRICS);
  let agg!: Aggregation;
  const series = await gather(db, overlay, names, undefined, since, until + 60_000, (series) => {
    agg = new Aggregation(series, [NAME, "service", "func", "ret"], since, span + 60_000, 1);
    return (rows) => agg.add(rows);
  });
  for (const s of series) {
    lastSeen.set(s.service, Math.max(lastSeen.get(s.service) ?? 0, s.lastSeen));
  }
  for (const s of overlay?.(undefined, since, until).series ?? []) {
    lastSeen.set(s.service, Math.max(lastSeen.get(s.service) ?? 0, s.lastSeen));
  }
  // Groups by service and func, each with the per-name groups beneath.
  type Parts = Record<keyof typeof PLATFORM_METRICS, Group[]>;
  const empty = (): Parts => ({ requests: [], latency: [], relyLatency: [], concurrency: [] });
  const services = new Map<string, { all: Parts; funcs: Map<string, Parts> }>();
  for (const service of lastSeen.keys()) services.set(service, { all: empty(), funcs: new Map() });
  const which = Object.fromEntries(
    Object.entries(PLATFORM_METRICS).map(([k, v]) => [v, k as keyof Parts]),
  );
  for (const g of agg.groups.values()) {
    const part = which[g.labels[NAME]];
    const svc = services.get(g.labels.service);
    if (!part || !svc) continue;
    svc.all[part].push(g);
    let f = svc.funcs.get(g.labels.func);
    if (!f) svc.funcs.set(g.labels.func, f = empty());
    f[part].push(g);
  }
  const stats = (p: Parts): ServiceStats => {
    let requests = 0;
    let errors = 0;
    for (const g of p.requests) {
      const n = g.sums?.[0] ?? 0;
      requests += n;
      if (g.labels.ret !== "" && g.labels.ret !== "0") errors += n;
    }
    let concurrency = NaN;
    for (const g of p.concurrency) {
      const v = gaugeAt(g, 0);
      if (!Number.isNaN(v)) concurrency = (Number.isNaN(concurrency) ? 0 : concurrency) + v;
    }
    return {
      requests,
      requests_per_min: round(requests / (span / 60_000)),
      errors,
      error_ratio: requests > 0 ? round(errors / requests) : null,
      latency_ms: latencyStats(histogramOf(p.latency)),
      rely_latency_ms: latencyStats(histogramOf(p.relyLatency)),
      concurrency: finite(concurrency),
    };
  };
  const out: ServiceSummary[] = [];
  for (const [service, s] of [...services].sort(([a], [b]) => a.localeCompare(b))) {
    const funcs = [...s.funcs].filter(([func]) => func !== "")
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([func, p]) => ({ func, ...stats(p) }));
    out.push({ service, last_seen: lastSeen.get(service) ?? 0, ...stats(s.all), funcs });
  }
  return { window_seconds: Math.round(q.window / 1000), since, until, services: out };
}

/** Round to 6 significant decimals, so ratios print cleanly. */
export function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/**
 * One metric as time series: per step, a counter's rate per second, a
 * histogram's `q` quantile, or a gauge's last value (summed over the
 * group's series); one series per distinct value of the `by` labels.
 *
 * @throws {RollupQueryError} when the answer would pass {@linkcode MAX_QUERY_POINTS},
 *   or the name is a counter in one service and a gauge in another.
 */
export async function readQuery(
  db: Kysely<Database>,
  q: MetricQuery,
  overlay?: Overlay,
): Promise<MetricQueryResult> {
  const since = Math.floor(q.since / 60_000) * 60_000;
  const steps = Math.max(1, Math.ceil((q.until - since) / q.step));
  let agg!: Aggregation;
  const end = since + steps * q.step;
  const series = await gather(db, overlay, [q.name], q.service, since, end, (series) => {
    const kinds = new Set(series.map((s) => s.kind));
    if (kinds.size > 1) {
      throw new RollupQueryError(
        `name: ${q.name} is sent as ${[...kinds].join(" and ")}; add service= to pick one`,
      );
    }
    agg = new Aggregation(series, q.by, since, q.step, steps);
    if (agg.groups.size * steps > MAX_QUERY_POINTS) {
      throw new RollupQueryError(
        `${agg.groups.size} series of ${steps} steps is over ${MAX_QUERY_POINTS} points: ` +
          "group by fewer labels, or take a longer step or a shorter range",
      );
    }
    return (rows) => agg.add(rows);
  });
  const kind = series[0]?.kind ?? null;
  const out: QuerySeries[] = [];
  for (const g of agg.groups.values()) {
    const points: [number, number | null][] = [];
    for (let i = 0; i < steps; i++) {
      const t = since + i * q.step;
      let v: number;
      if (kind === "counter") {
        const covered = Math.max(1, Math.min(t + q.step, q.until) - t);
        v = (g.sums?.[i] ?? 0) / (covered / 1000);
      } else if (kind === "histogram") {
        const h = histogramAt(g, i);
        v = h ? histogramQuantile(q.q, h) : NaN;
      } else {
        v = gaugeAt(g, i);
      }
      points.push([t, finite(v) === null ? null : round(v)]);
    }
    out.push({ labels: g.labels, points });
  }
  out.sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
  return {
    name: q.name,
    kind,
    unit: series[0]?.unit ?? "",
    value: kind === "counter"
      ? "rate_per_second"
      : kind === "histogram"
      ? "quantile"
      : kind === "gauge"
      ? "last"
      : null,
    q: kind === "histogram" ? q.q : undefined,
    by: [...q.by],
    since,
    until: q.until,
    step_seconds: q.step / 1000,
    series: out,
  };
}

/** The rollups read from the database alone (the shell, while the agent may be writing). */
export class StoredMetricsReader implements MetricsReader {
  readonly #db: () => Kysely<Database>;

  constructor(db: () => Kysely<Database>) {
    this.#db = db;
  }

  services(q: ServicesQuery): Promise<ServicesResult> {
    return readServices(this.#db(), q);
  }

  query(q: MetricQuery): Promise<MetricQueryResult> {
    return readQuery(this.#db(), q);
  }
}
