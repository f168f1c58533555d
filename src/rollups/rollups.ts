/**
 * The metric rollups: the sink the OTLP receiver hands decoded metrics to,
 * keeping each series as one row per minute in the trace store's database,
 * so an operator can ask for requests, errors and latency per platform
 * service without a Prometheus.
 *
 * - Counters and histograms become increments per minute (cumulative
 *   points turned into deltas, resets found by a lower value or a new start
 *   time); gauges (and up-down counters) keep their last value per minute.
 * - A series' first cumulative point is counted whole only when the series
 *   began while its service was watched: its start time is after the
 *   service was first heard from, or it appears after a warm-up (longer
 *   than an export interval) in which every series that already existed
 *   has shown itself. Otherwise it is the baseline (as the OpenTelemetry
 *   Collector's cumulativetodelta `initial_value: auto` does).
 * - Bounded: at most `maxSeries` series in memory (points of more are
 *   dropped and counted), series not heard from for `staleAfter` leave
 *   memory, and at most `maxPending` minutes wait for the database.
 * - Written in batches: one transaction per flush (every `flushInterval`,
 *   and on stop); a failed flush keeps its minutes for the next one.
 * - Retention: minutes older than `store.retention` are deleted by its own
 *   periodic pass.
 *
 * @example
 * ```ts
 * import type { Store } from "../store/store.ts";
 * import { Logger } from "../log/logger.ts";
 * import type { ReceivedMetric } from "../otlp/metric_points.ts";
 * declare const store: Store; // started
 * declare const received: ReceivedMetric[]; // decoded by the OTLP receiver
 * const rollups = new MetricRollups({ store, logger: new Logger(), maxSeries: 50_000 });
 * await rollups.start();
 * await rollups.take(received, Date.now());
 * const summary = await rollups.services({ window: 300_000, until: Date.now() });
 * await rollups.stop(); // flushes
 * ```
 *
 * @module
 */

import type { Component } from "../component.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/store.ts";
import type { MetricsSink, ReceivedMetric } from "../otlp/metric_points.ts";
import { errorMessage } from "../errors.ts";
import { SerialLock } from "../serial_lock.ts";
import { timerDelay } from "../timers.ts";
import {
  counterIncrease,
  histogramIncrease,
  type Increment,
  labelsOf,
  minuteOf,
  nanosToMs,
  Series,
  seriesKey,
  type SeriesKind,
} from "./series.ts";
import {
  expireRollups,
  type IncrementsWrite,
  type RollupRetentionResult,
  type SeriesWrite,
  writeRollups,
} from "./persist.ts";
import {
  type MetricQueryResult,
  type MetricsReader,
  type Overlay,
  readQuery,
  readServices,
  type ServicesResult,
} from "./read.ts";
import type { MetricQuery, ServicesQuery } from "./params.ts";
import { mergeExposition, receivedFamilies } from "./exposition.ts";
import { sameBounds } from "./quantile.ts";
import { RecentServices } from "./recent.ts";
import { PLATFORM_METRICS } from "./read.ts";

/** Options for {@linkcode MetricRollups}. */
export interface MetricRollupsOptions {
  /** The trace store: rollups live in its database and are kept for its `retention`. */
  store: Pick<Store, "backend" | "config">;
  logger: Logger;
  /** Most series kept (`otlp_receiver.max_series`; default 50,000). */
  maxSeries?: number;
  /** Time between flushes to the database, ms (default 10 s). */
  flushInterval?: number;
  /** Time between retention passes, ms (default 60 s; the first runs 30 s after start). */
  retentionInterval?: number;
  /** A series not heard from this long leaves memory (and `/metrics`), ms (default 10 min). */
  staleAfter?: number;
  /** How long after a service is first heard from a new series is taken as new, ms (default 65 s). */
  warmup?: number;
  /** Most minutes waiting for the database (default 4 x `maxSeries`); points beyond are dropped. */
  maxPending?: number;
  /** The clock (epoch ms). */
  now?: () => number;
}

/** The rollups' counters, for `/status` and `/metrics`. */
export interface RollupStats {
  /** Series in memory. */
  series: number;
  /** Minutes waiting to be written. */
  pending_minutes: number;
  /** Points taken since start. */
  points_taken: number;
  /** Points dropped: a series over the limit, no room for another pending minute, a type clash. */
  points_dropped: number;
  flushes: number;
  flush_failures: number;
  /** Why the last flush failed, while flushes fail. */
  flush_error?: string;
}

/** What one flush wrote. */
export interface FlushResult {
  series: number;
  minutes: number;
  /** Why it failed (its minutes are kept for the next flush). */
  error?: string;
}

/** What is known about a service that sends metrics. */
interface ServiceState {
  /** First heard from (receive time, ms). */
  since: number;
  /** Latest point time of a series forgotten or refused: a series starting before it is not new. */
  horizon: number;
  /** Series in memory. */
  series: number;
  heardAt: number;
}

/** Series keys longer than this are refused (a label value of megabytes is not a label). */
const MAX_KEY = 8 * 1024;

/** The metric rollups; see the module doc. */
export class MetricRollups implements Component, MetricsSink, MetricsReader {
  readonly name = "rollups";
  readonly #store: MetricRollupsOptions["store"];
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #maxSeries: number;
  readonly #maxPending: number;
  readonly #flushInterval: number;
  readonly #retentionInterval: number;
  readonly #staleAfter: number;
  readonly #warmup: number;
  readonly #series = new Map<string, Series>();
  readonly #services = new Map<string, ServiceState>();
  readonly #lock = new SerialLock();
  #dirty: Series[] = [];
  readonly #dirtySet = new WeakSet<Series>();
  #pending = 0;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #running = false;
  #failing?: string;
  #stats = { points_taken: 0, points_dropped: 0, flushes: 0, flush_failures: 0 };
  readonly #recent: RecentServices;

  constructor(options: MetricRollupsOptions) {
    this.#store = options.store;
    this.#logger = options.logger.child({ component: "rollups" });
    this.#now = options.now ?? Date.now;
    this.#maxSeries = options.maxSeries ?? 50_000;
    this.#maxPending = options.maxPending ?? 4 * this.#maxSeries;
    this.#flushInterval = options.flushInterval ?? 10_000;
    this.#retentionInterval = options.retentionInterval ?? 60_000;
    this.#staleAfter = options.staleAfter ?? 600_000;
    this.#warmup = options.warmup ?? 65_000;
    this.#recent = new RecentServices(this.#now());
  }

  /** Keep requests and latency per service and func in memory for windows up to `ms` (alert rules). */
  keepRecent(ms: number): void {
    this.#recent.keep(ms, this.#now());
  }

  /** The services summary over `window` from memory, when it covers the window; else `undefined`. */
  recentServices(window: number, until: number): ServicesResult | undefined {
    return this.#recent.covers(window, until) ? this.#recent.services(window, until) : undefined;
  }

  /** Start flushing and the retention pass. Never fails: a database that is down is waited for. */
  start(): Promise<void> {
    this.#running = true;
    this.#schedule(() => this.#flushLoop(), this.#flushInterval);
    this.#schedule(() => this.#retentionLoop(), Math.min(30_000, this.#retentionInterval));
    return Promise.resolve();
  }

  /** Stop the timers and write what is waiting. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#lock.run(() => this.#flush(true));
    await this.#lock.idle();
  }

  /** `undefined` while minutes reach the database; else why they do not. */
  readiness(): string | undefined {
    if (!this.#failing) return undefined;
    return `cannot write metric rollups (${this.#failing}); ${this.#pending} minutes kept in memory`;
  }

  /** The counters (see {@linkcode RollupStats}). */
  stats(): RollupStats {
    return {
      series: this.#series.size,
      pending_minutes: this.#pending,
      ...this.#stats,
      flush_error: this.#failing,
    };
  }

  /**
   * Take the metrics of one request (see {@linkcode MetricsSink}): each
   * point goes into its series' minute, in memory, until the next flush.
   *
   * @param receivedAt when the request arrived (epoch ms); a point's own
   *   time is used unless it is older than the retention or a minute ahead of this.
   */
  take(metrics: ReceivedMetric[], receivedAt: number): Promise<{ taken: number; dropped: number }> {
    let taken = 0;
    let dropped = 0;
    const maxAge = this.#store.config.retention;
    // A request's points mostly share their times: the last text read and its ms.
    let lastNanos = "";
    let lastMs = NaN;
    const msOf = (nanos: string) => {
      if (nanos !== lastNanos) {
        lastNanos = nanos;
        lastMs = nanosToMs(nanos);
      }
      return lastMs;
    };
    const timeOf = (nanos: string) => {
      const t = msOf(nanos);
      return t > receivedAt - maxAge && t < receivedAt + 60_000 ? t : receivedAt;
    };
    let lastBounds: number[] | undefined;
    let lastBoundsText = "";
    let scratch: { sum: number; counts: number[] } = { sum: 0, counts: [] };
    for (const m of metrics) {
      const svc = this.#service(m.service, receivedAt);
      this.#recent.heard(m.service, receivedAt);
      const requests = m.name === PLATFORM_METRICS.requests;
      const latency = m.name === PLATFORM_METRICS.latency;
      const fresh = (start: string) => {
        const ms = msOf(start);
        return !!svc && ms > svc.horizon &&
          (ms >= svc.since || receivedAt - svc.since >= this.#warmup);
      };
      if (m.kind === "histogram") {
        for (const p of m.points) {
          const t = timeOf(p.time_unix_nano);
          let bounds = p.explicit_bounds;
          if (lastBounds && sameBounds(lastBounds, bounds)) bounds = lastBounds;
          else {
            lastBounds = bounds;
            lastBoundsText = bounds.join(",");
          }
          const s = this.#lookup(
            m,
            "histogram",
            p.attributes,
            svc,
            t,
            receivedAt,
            bounds,
            lastBoundsText,
          );
          if (!s) {
            dropped++;
            continue;
          }
          taken++;
          if (scratch.counts.length !== bounds.length + 1) {
            scratch = { sum: 0, counts: new Array(bounds.length + 1).fill(0) };
          }
          const added = histogramIncrease(
            s,
            m.temporality,
            p.start_time_unix_nano,
            t,
            p.count,
            p.sum ?? 0,
            p.bucket_counts,
            fresh(p.start_time_unix_nano),
            scratch,
          );
          if (!added) continue;
          const inc = this.#increment(s, t);
          if (!inc) {
            taken--;
            dropped++;
            continue;
          }
          inc.value += added;
          inc.sum += scratch.sum;
          for (let i = 0; i < scratch.counts.length; i++) inc.counts![i] += scratch.counts[i];
          if (t > inc.at) inc.at = t;
          if (latency) {
            const func = String(p.attributes.func ?? "");
            this.#recent.addLatency(m.service, func, inc.minute, bounds, scratch.counts);
          }
        }
      } else if (m.kind === "sum" && m.monotonic) {
        for (const p of m.points) {
          const t = timeOf(p.time_unix_nano);
          const s = this.#lookup(m, "counter", p.attributes, svc, t, receivedAt);
          if (!s) {
            dropped++;
            continue;
          }
          taken++;
          const added = counterIncrease(
            s,
            m.temporality,
            p.start_time_unix_nano,
            t,
            p.value,
            fresh(p.start_time_unix_nano),
          );
          if (!added) continue;
          const inc = this.#increment(s, t);
          if (!inc) {
            taken--;
            dropped++;
            continue;
          }
          inc.value += added;
          if (t > inc.at) inc.at = t;
          if (requests) {
            const a = p.attributes;
            this.#recent.addRequests(
              m.service,
              String(a.func ?? ""),
              String(a.ret ?? ""),
              inc.minute,
              added,
            );
          }
        }
      } else {
        // A gauge, or an up-down counter: its level is the value (delta points add up to it).
        const delta = m.kind === "sum" && m.temporality === "delta";
        for (const p of m.points) {
          const t = timeOf(p.time_unix_nano);
          const s = this.#lookup(m, "gauge", p.attributes, svc, t, receivedAt);
          if (!s) {
            dropped++;
            continue;
          }
          taken++;
          if (!Number.isFinite(p.value)) continue;
          let value = p.value;
          if (delta) {
            value = (s.seen ? s.total : 0) + p.value;
            s.total = value;
          } else if (t >= s.lastMs) {
            s.total = value;
          }
          s.seen = true;
          if (t > s.lastMs) s.lastMs = t;
          const inc = this.#increment(s, t);
          if (!inc) {
            taken--;
            dropped++;
            continue;
          }
          if (t >= inc.at) {
            inc.value = value;
            inc.at = t;
          }
        }
      }
    }
    this.#stats.points_taken += taken;
    this.#stats.points_dropped += dropped;
    return Promise.resolve({ taken, dropped });
  }

  /** What is known about `service`, created on first hearing (none past the limit). */
  #service(service: string, at: number): ServiceState | undefined {
    let svc = this.#services.get(service);
    if (!svc && this.#services.size < this.#maxSeries) {
      svc = { since: at, horizon: -Infinity, series: 0, heardAt: at };
      this.#services.set(service, svc);
    }
    if (svc) svc.heardAt = at;
    return svc;
  }

  /** The series a point belongs to, created when there is room; undefined when dropped. */
  #lookup(
    m: ReceivedMetric,
    kind: SeriesKind,
    attributes: Record<string, unknown>,
    svc: ServiceState | undefined,
    t: number,
    receivedAt: number,
    bounds?: number[],
    boundsText?: string,
  ): Series | undefined {
    const key = seriesKey(m.service, m.name, attributes, bounds, boundsText);
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= this.#maxSeries || key.length > MAX_KEY || !svc) {
        // Were it let in later, its first point must not count its whole history.
        if (svc && t > svc.horizon) svc.horizon = t;
        return undefined;
      }
      s = new Series(key, {
        service: m.service,
        name: m.name,
        kind,
        labels: labelsOf(attributes),
        bounds: bounds?.slice(),
        unit: m.unit,
        description: m.description,
      });
      s.firstHeard = receivedAt;
      this.#series.set(key, s);
      svc.series++;
    } else if (s.kind !== kind) {
      return undefined; // the same name and labels sent as another type
    }
    s.heardAt = receivedAt;
    return s;
  }

  /** The increment of the minute of `t` for `s`, unless too many minutes wait already. */
  #increment(s: Series, t: number): Increment | undefined {
    const minute = minuteOf(t);
    const last = s.pending.at(-1);
    let inc: Increment | undefined;
    if (last?.minute === minute) {
      inc = last;
    } else {
      if (this.#pending >= this.#maxPending && !s.pending.some((p) => p.minute === minute)) {
        return undefined;
      }
      const created = { n: 0 };
      inc = s.increment(minute, created);
      this.#pending += created.n;
    }
    if (!this.#dirtySet.has(s)) {
      this.#dirtySet.add(s);
      this.#dirty.push(s);
    }
    return inc;
  }

  /**
   * Write the waiting minutes (and new or refreshed series) in one
   * transaction, then let series not heard from for `staleAfter` go.
   * A failure keeps the minutes for the next flush; it is logged once per
   * cause and shown in `readiness()`.
   */
  flush(): Promise<FlushResult> {
    return this.#lock.run(() => this.#flush(false));
  }

  /** A flush; `exact` writes every series' `last_seen` as it is (on stop), not only stale ones. */
  async #flush(exact: boolean): Promise<FlushResult> {
    const dirty = this.#dirty;
    this.#dirty = [];
    const writes: IncrementsWrite[] = [];
    const detached: [Series, Increment[]][] = [];
    for (const s of dirty) {
      this.#dirtySet.delete(s);
      if (!s.pending.length) continue;
      writes.push({ id: s.id, kind: s.kind, increments: s.pending });
      detached.push([s, s.pending]);
      this.#pending -= s.pending.length;
      s.pending = [];
    }
    const refresh = exact ? 1 : Math.min(600_000, this.#store.config.retention / 2);
    const series: SeriesWrite[] = [];
    const touched: [Series, number][] = [];
    for (const s of this.#series.values()) {
      if (!s.seen || (s.writtenSeen !== 0 && s.heardAt - s.writtenSeen < refresh)) continue;
      series.push({ info: s, firstSeen: s.firstHeard, lastSeen: s.heardAt });
      touched.push([s, s.heardAt]);
    }
    const minutes = detached.reduce((n, [, incs]) => n + incs.length, 0);
    let error: string | undefined;
    if (writes.length || series.length) {
      try {
        await writeRollups(this.#store.backend, series, writes);
        for (const [s, seen] of touched) s.writtenSeen = seen;
        this.#stats.flushes++;
        if (this.#failing) this.#logger.info("metric rollups written again", { minutes });
        this.#failing = undefined;
      } catch (err) {
        error = errorMessage(err);
        for (const [s, incs] of detached) for (const inc of incs) this.#restore(s, inc);
        this.#stats.flush_failures++;
        if (this.#failing !== error) {
          this.#logger.warn("cannot write metric rollups; kept in memory", {
            err: error,
            minutes: this.#pending,
          });
        }
        this.#failing = error;
      }
    }
    this.#evict(this.#now());
    return { series: writes.length, minutes: error ? 0 : minutes, error };
  }

  /** Put a minute that could not be written back, adding it to one taken since. */
  #restore(s: Series, inc: Increment): void {
    const created = { n: 0 };
    const into = s.increment(inc.minute, created);
    this.#pending += created.n;
    if (s.kind === "gauge") {
      if (inc.at > into.at || created.n) {
        into.value = inc.value;
        into.at = inc.at;
      }
    } else {
      into.value += inc.value;
      into.sum += inc.sum;
      if (inc.counts && into.counts) {
        for (let i = 0; i < into.counts.length; i++) into.counts[i] += inc.counts[i] ?? 0;
      }
      if (inc.at > into.at) into.at = inc.at;
    }
    if (!this.#dirtySet.has(s)) {
      this.#dirtySet.add(s);
      this.#dirty.push(s);
    }
  }

  /** Forget series not heard from for `staleAfter` (with nothing left to write), and idle services. */
  #evict(now: number): void {
    for (const [key, s] of this.#series) {
      if (s.pending.length || now - s.heardAt < this.#staleAfter) continue;
      this.#series.delete(key);
      const svc = this.#services.get(s.service);
      if (!svc) continue;
      svc.series--;
      const last = Number.isFinite(s.lastMs) ? s.lastMs : s.heardAt;
      if (last > svc.horizon) svc.horizon = last;
    }
    for (const [name, svc] of this.#services) {
      // Safe to forget: a service heard from again warms up again.
      if (svc.series <= 0 && now - svc.heardAt >= this.#staleAfter) this.#services.delete(name);
    }
  }

  /**
   * Delete minutes older than `store.retention`, and the series left with none.
   *
   * @throws when the database cannot be reached.
   */
  enforceRetention(): Promise<RollupRetentionResult> {
    return this.#lock.run(async () => {
      const backend = this.#store.backend;
      const r = await expireRollups(backend, this.#now() - this.#store.config.retention);
      if (r.rollups) await backend.reclaim();
      return r;
    });
  }

  /** The rollups' clock (epoch ms). */
  now(): number {
    return this.#now();
  }

  /** The services summary, from the database and the minutes not yet written. */
  services(q: ServicesQuery): Promise<ServicesResult> {
    return this.#lock.run(() => readServices(this.#store.backend.db, q, this.#overlay));
  }

  /** One metric as time series, from the database and the minutes not yet written. */
  query(q: MetricQuery): Promise<MetricQueryResult> {
    return this.#lock.run(() => readQuery(this.#store.backend.db, q, this.#overlay));
  }

  /**
   * `own` (the agent's exposition) with every series heard from in the
   * last 5 minutes joined in, as received plus `service` (see exposition.ts).
   */
  exposition(own: string): string {
    const now = this.#now();
    const live = [...this.#series.values()].filter((s) => now - s.heardAt <= 300_000);
    return mergeExposition(own, receivedFamilies(live));
  }

  /** The series and unwritten minutes in memory, for reads. */
  readonly #overlay: Overlay = (names, since, until) => {
    const wanted = names ? new Set(names) : undefined;
    const out: ReturnType<Overlay> = { series: [], rows: [] };
    for (const s of this.#series.values()) {
      if (!s.seen || (wanted && !wanted.has(s.name))) continue;
      out.series.push({
        id: s.id,
        service: s.service,
        name: s.name,
        kind: s.kind,
        labels: s.labels,
        bounds: s.bounds,
        unit: s.unit,
        description: s.description,
        lastSeen: s.heardAt,
      });
      for (const inc of s.pending) {
        if (inc.minute < since || inc.minute >= until) continue;
        out.rows.push({
          series_id: s.id,
          minute: inc.minute,
          value: inc.value,
          sum: inc.sum,
          counts: inc.counts?.slice(),
          at: inc.at,
        });
      }
    }
    return out;
  };

  #schedule(fn: () => Promise<void>, ms: number): void {
    if (!this.#running) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn().catch((err) => this.#logger.error("rollups task failed", { err: errorMessage(err) }));
    }, timerDelay(ms));
    this.#timers.add(t);
  }

  async #flushLoop(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#schedule(() => this.#flushLoop(), this.#flushInterval);
    }
  }

  async #retentionLoop(): Promise<void> {
    try {
      const r = await this.enforceRetention();
      if (r.rollups || r.series) this.#logger.info("rollup retention", { ...r });
    } catch (err) {
      this.#logger.debug("rollup retention skipped", { err: errorMessage(err) });
    } finally {
      this.#schedule(() => this.#retentionLoop(), this.#retentionInterval);
    }
  }
}
