/**
 * The access-log analysis: parsed requests in, the v1 report out. One pass,
 * bounded memory: fixed arrays for statuses, maps keyed by hour and minute,
 * top lists that keep at most `TOP_SLACK * capacity` keys, and visitors as a set of
 * 53-bit hashes of (day, client, user agent) (16 bytes or less each).
 *
 * @module
 */

import type { AccessLine } from "./log_format.ts";
import type { RouteFamily } from "../config/access_logs.ts";
import { agentFamily, methodOf, RouteClassifier, suspicion } from "./classify.ts";
import { own, TopCounter } from "./top.ts";
import { hash53, Hash53Set } from "./hash53.ts";
import {
  type AccessReport,
  type ErrorBurst,
  REPORT_SCHEMA,
  type RouteStats,
  type SuspiciousGroup,
} from "./report_schema.ts";

/** Options for {@linkcode AccessAggregate}. */
export interface AggregateOptions {
  routes: readonly RouteFamily[];
  client: "auto" | "remote_addr" | "x_forwarded_for";
  /** Epoch ms window; requests outside it are counted as `outside_window`. */
  since?: number;
  until?: number;
  /** Keys each top list keeps exactly (default 1000). */
  topCapacity?: number;
}

/** A report's top lists hold this many times their capacity before pruning (see {@linkcode TopCounter}). */
const TOP_SLACK = 8;
/** Most unparsed lines, and examples per suspicious reason, kept. */
const SAMPLES = 5;
/** A minute is a 5xx burst when it has at least this many 5xx answers and this share of its requests. */
export const BURST_MIN = 10;
export const BURST_RATIO = 0.2;
/** A client with this many 404s, half or more of its requests, is a 404 storm. */
export const STORM_MIN = 50;

/** Request time buckets: 1 ms to ~2.8 h, each 5% wider than the last (quantiles within 2.5%). */
const RT_FACTOR = 1.05;
const RT_BUCKETS = 330;

class TimeHistogram {
  readonly counts = new Float64Array(RT_BUCKETS + 1);
  n = 0;
  add(seconds: number): void {
    const ms = seconds * 1000;
    const i = ms <= 1 ? 0 : Math.min(RT_BUCKETS, Math.ceil(Math.log(ms) / Math.log(RT_FACTOR)));
    this.counts[i]++;
    this.n++;
  }
  quantile(q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i <= RT_BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.round(RT_FACTOR ** i * 100) / 100;
    }
    return NaN;
  }
  summary() {
    return { p50: this.quantile(0.5), p90: this.quantile(0.9), p99: this.quantile(0.99) };
  }
  absorb(other: { counts: Float64Array; n: number }): void {
    for (let i = 0; i <= RT_BUCKETS; i++) this.counts[i] += other.counts[i];
    this.n += other.n;
  }
}

interface RouteAcc {
  requests: number;
  bytes: number;
  e4: number;
  e5: number;
  time?: TimeHistogram;
}

/** The client address of a request, as configured. */
export function clientOf(line: AccessLine, mode: AggregateOptions["client"]): string {
  if (mode === "remote_addr") return line.remoteAddr;
  const xff = line.forwardedFor;
  if (xff && xff !== "-") {
    const comma = xff.indexOf(",");
    return (comma < 0 ? xff : xff.slice(0, comma)).trim();
  }
  return line.remoteAddr;
}

type Top = keyof AccessReport["top"];
const TOPS: readonly Top[] = ["paths", "not_found", "clients", "user_agents", "referers"];

/** A top list as plain data: its keys with their counts, and its error bound. */
interface TopState {
  keys: [string, { n: number; bytes: number }][];
  error: number;
}

/**
 * Everything an {@linkcode AccessAggregate} has counted, as plain data
 * (structured-cloneable, its typed arrays transferable): what a report
 * worker posts back, to be {@linkcode AccessAggregate.absorb}ed.
 */
export interface AggregateState {
  lines: AccessAggregate["lines"];
  requests: number;
  bytes: number;
  first: number;
  last: number;
  statusN: Float64Array;
  statusBytes: Float64Array;
  methods: [string, number][];
  routes: [string, Omit<RouteAcc, "time"> & { time?: { counts: Float64Array; n: number } }][];
  hours: [number, { requests: number; bytes: number; e5: number }][];
  minutes: [number, { n: number; e5: number }][];
  visitors: Float64Array;
  time: { counts: Float64Array; n: number };
  top: Record<Top, TopState>;
  clients404: TopState;
  suspicious: (SuspiciousGroup & { seen: string[] })[];
}

/** Counts requests into a report. */
export class AccessAggregate {
  readonly #o: AggregateOptions;
  readonly #routes: RouteClassifier;
  readonly #statusN = new Float64Array(1000);
  readonly #statusBytes = new Float64Array(1000);
  readonly #methods = new Map<string, number>();
  readonly #routeAcc = new Map<string, RouteAcc>();
  readonly #hours = new Map<number, { requests: number; bytes: number; e5: number }>();
  readonly #minutes = new Map<number, { n: number; e5: number }>();
  readonly #visitors = new Hash53Set();
  readonly #time = new TimeHistogram();
  readonly #top: Record<Top, TopCounter>;
  readonly #clients404 = new TopCounter(1000, TOP_SLACK);
  readonly #suspicious = new Map<string, SuspiciousGroup & { seen: Set<string> }>();
  readonly lines = {
    total: 0,
    parsed: 0,
    unparsed: 0,
    unparsed_samples: [] as string[],
    cut: 0,
    binary: 0,
    outside_window: 0,
  };
  requests = 0;
  bytes = 0;
  #first = Infinity;
  #last = -Infinity;

  constructor(options: AggregateOptions) {
    this.#o = options;
    this.#routes = new RouteClassifier(options.routes, 1 << 19);
    const cap = options.topCapacity ?? 1000;
    this.#top = {
      paths: new TopCounter(cap, TOP_SLACK),
      not_found: new TopCounter(cap, TOP_SLACK),
      clients: new TopCounter(cap, TOP_SLACK),
      user_agents: new TopCounter(cap, TOP_SLACK),
      referers: new TopCounter(cap, TOP_SLACK),
    };
  }

  /** A line that did not match the format. */
  unparsed(line: string): void {
    this.lines.total++;
    this.lines.unparsed++;
    if (this.lines.unparsed_samples.length < SAMPLES) {
      this.lines.unparsed_samples.push(own(line.slice(0, 500)));
    }
  }

  /** A parsed request (the parser's reused object: read now, not kept). */
  add(l: AccessLine, rawLine: string): void {
    this.lines.total++;
    this.lines.parsed++;
    const t = l.time;
    if (
      (this.#o.since !== undefined && !(t >= this.#o.since)) ||
      (this.#o.until !== undefined && !(t < this.#o.until))
    ) {
      this.lines.outside_window++;
      return;
    }
    this.requests++;
    this.bytes += l.bytes;
    if (t < this.#first) this.#first = t;
    if (t > this.#last) this.#last = t;
    const status = l.status;
    this.#statusN[status]++;
    this.#statusBytes[status] += l.bytes;
    const method = methodOf(l.method);
    this.#methods.set(method, (this.#methods.get(method) ?? 0) + 1);
    const pathHash = hash53(l.path);
    const route = this.#routes.route(l.path, pathHash);
    let r = this.#routeAcc.get(route);
    if (!r) this.#routeAcc.set(route, r = { requests: 0, bytes: 0, e4: 0, e5: 0 });
    r.requests++;
    r.bytes += l.bytes;
    const e5 = status >= 500 ? 1 : 0;
    if (e5) r.e5++;
    else if (status >= 400) r.e4++;
    if (l.requestTime === l.requestTime) {
      (r.time ??= new TimeHistogram()).add(l.requestTime);
      this.#time.add(l.requestTime);
    }
    const hour = Math.floor(t / 3_600_000) * 3_600_000;
    let h = this.#hours.get(hour);
    if (!h) this.#hours.set(hour, h = { requests: 0, bytes: 0, e5: 0 });
    h.requests++;
    h.bytes += l.bytes;
    h.e5 += e5;
    const minute = Math.floor(t / 60_000);
    let m = this.#minutes.get(minute);
    if (!m) this.#minutes.set(minute, m = { n: 0, e5: 0 });
    m.n++;
    m.e5 += e5;
    const client = clientOf(l, this.#o.client);
    const clientHash = hash53(client);
    // GoAccess leaves requests answered 4xx out of its visitors (unless --4xx-to-unique-count).
    if (status < 400 || status >= 500) {
      this.#visitors.add(hash53(l.day, client, l.userAgent));
    }
    this.#top.paths.add(l.path, l.bytes, 1, pathHash);
    if (status === 404) {
      this.#top.not_found.add(l.path, l.bytes, 1, pathHash);
      this.#clients404.add(client, 0, 1, clientHash);
    }
    this.#top.clients.add(client, l.bytes, 1, clientHash);
    const agent = agentFamily(l.userAgent);
    this.#top.user_agents.add(agent, l.bytes);
    if (l.referer !== "-" && l.referer !== "") this.#top.referers.add(l.referer, l.bytes);
    const why = suspicion(l.path, l.query, agent);
    if (why) this.#flag(why, l, client, rawLine);
  }

  #flag(reason: string, l: AccessLine, client: string, raw: string): void {
    let g = this.#suspicious.get(reason);
    if (!g) {
      this.#suspicious.set(
        reason,
        g = { reason, requests: 0, clients: 0, examples: [], seen: new Set() },
      );
    }
    g.requests++;
    if (g.seen.size < 10_000 && !g.seen.has(client)) g.seen.add(own(client));
    if (g.examples.length < SAMPLES) {
      g.examples.push({
        time: Number.isFinite(l.time) ? new Date(l.time).toISOString() : "",
        client: own(client),
        request: own(raw.slice(0, 300)),
        status: l.status,
      });
    }
  }

  /** The report. */
  report(files: string[], logFormat: string, now = Date.now()): AccessReport {
    const classes = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
    const statuses: AccessReport["statuses"] = [];
    for (let s = 100; s < 1000; s++) {
      const n = this.#statusN[s];
      if (!n) continue;
      statuses.push({ status: s, requests: n, bytes: this.#statusBytes[s] });
      const c = `${Math.floor(s / 100)}xx` as keyof typeof classes;
      if (c in classes) classes[c] += n;
    }
    const routes: RouteStats[] = [...this.#routeAcc].map(([route, r]) => ({
      route,
      requests: r.requests,
      bytes: r.bytes,
      errors_4xx: r.e4,
      errors_5xx: r.e5,
      ...(r.time ? { request_time_ms: r.time.summary() } : {}),
    })).sort((a, b) => b.requests - a.requests);
    const suspicious = [...this.#suspicious.values()].map(({ seen, ...g }) => ({
      ...g,
      clients: seen.size,
    }));
    const storms = this.#storms();
    if (storms) suspicious.push(storms);
    suspicious.sort((a, b) => b.requests - a.requests);
    const top = (c: TopCounter) => c.top(20);
    return {
      schema: REPORT_SCHEMA,
      generated_at: new Date(now).toISOString(),
      files,
      log_format: logFormat,
      ...(this.#o.since !== undefined ? { since: new Date(this.#o.since).toISOString() } : {}),
      ...(this.#o.until !== undefined ? { until: new Date(this.#o.until).toISOString() } : {}),
      lines: { ...this.lines },
      ...(this.requests && Number.isFinite(this.#first)
        ? {
          first: new Date(this.#first).toISOString(),
          last: new Date(this.#last).toISOString(),
        }
        : {}),
      requests: this.requests,
      bytes: this.bytes,
      visitors: this.#visitors.size,
      visitors_note:
        "distinct (day, client, user agent) over requests not answered 4xx, as GoAccess counts them by default; counted as 53-bit hashes: exact but for collisions (about 1 in 36,000 at 1M visitors a day)",
      status_classes: classes,
      statuses,
      methods: [...this.#methods].map(([method, requests]) => ({ method, requests }))
        .sort((a, b) => b.requests - a.requests),
      routes,
      hours: [...this.#hours].sort((a, b) => a[0] - b[0]).map(([h, v]) => ({
        hour: new Date(h).toISOString(),
        requests: v.requests,
        bytes: v.bytes,
        errors_5xx: v.e5,
      })),
      top: {
        paths: top(this.#top.paths),
        not_found: top(this.#top.not_found),
        clients: top(this.#top.clients),
        user_agents: top(this.#top.user_agents),
        referers: top(this.#top.referers),
      },
      ...(this.#time.n
        ? { request_time_ms: { ...this.#time.summary(), count: this.#time.n } }
        : {}),
      suspicious,
      bursts: this.#bursts(),
    };
  }

  /** Everything counted so far, as plain data (see {@linkcode AggregateState}). */
  state(): AggregateState {
    const top = (c: TopCounter): TopState => ({ keys: [...c.entries()], error: c.error });
    return {
      lines: { ...this.lines },
      requests: this.requests,
      bytes: this.bytes,
      first: this.#first,
      last: this.#last,
      statusN: this.#statusN,
      statusBytes: this.#statusBytes,
      methods: [...this.#methods],
      routes: [...this.#routeAcc],
      hours: [...this.#hours],
      minutes: [...this.#minutes],
      visitors: this.#visitors.members(),
      time: this.#time,
      top: Object.fromEntries(TOPS.map((k) => [k, top(this.#top[k])])) as Record<Top, TopState>,
      clients404: top(this.#clients404),
      suspicious: [...this.#suspicious.values()].map((g) => ({ ...g, seen: [...g.seen] })),
    };
  }

  /**
   * Add the counts of another aggregate over the same options: the logs
   * that follow this one's (samples and examples keep the first ones in
   * that order, so parts absorbed in file order report as one pass would).
   */
  absorb(o: AggregateState): void {
    const l = this.lines;
    l.total += o.lines.total;
    l.parsed += o.lines.parsed;
    l.unparsed += o.lines.unparsed;
    l.cut += o.lines.cut;
    l.binary += o.lines.binary;
    l.outside_window += o.lines.outside_window;
    for (const line of o.lines.unparsed_samples) {
      if (l.unparsed_samples.length < SAMPLES) l.unparsed_samples.push(line);
    }
    this.requests += o.requests;
    this.bytes += o.bytes;
    this.#first = Math.min(this.#first, o.first);
    this.#last = Math.max(this.#last, o.last);
    for (let s = 0; s < this.#statusN.length; s++) {
      this.#statusN[s] += o.statusN[s];
      this.#statusBytes[s] += o.statusBytes[s];
    }
    for (const [m, n] of o.methods) this.#methods.set(m, (this.#methods.get(m) ?? 0) + n);
    for (const [route, r] of o.routes) {
      let mine = this.#routeAcc.get(route);
      if (!mine) this.#routeAcc.set(route, mine = { requests: 0, bytes: 0, e4: 0, e5: 0 });
      mine.requests += r.requests;
      mine.bytes += r.bytes;
      mine.e4 += r.e4;
      mine.e5 += r.e5;
      if (r.time) (mine.time ??= new TimeHistogram()).absorb(r.time);
    }
    for (const [hour, h] of o.hours) {
      const mine = this.#hours.get(hour);
      if (!mine) this.#hours.set(hour, { ...h });
      else {
        mine.requests += h.requests;
        mine.bytes += h.bytes;
        mine.e5 += h.e5;
      }
    }
    for (const [minute, m] of o.minutes) {
      const mine = this.#minutes.get(minute);
      if (!mine) this.#minutes.set(minute, { ...m });
      else {
        mine.n += m.n;
        mine.e5 += m.e5;
      }
    }
    this.#visitors.addMembers(o.visitors);
    this.#time.absorb(o.time);
    for (const k of TOPS) this.#top[k].merge(o.top[k].keys, o.top[k].error);
    this.#clients404.merge(o.clients404.keys, o.clients404.error);
    for (const g of o.suspicious) {
      let mine = this.#suspicious.get(g.reason);
      if (!mine) {
        this.#suspicious.set(
          g.reason,
          mine = { reason: g.reason, requests: 0, clients: 0, examples: [], seen: new Set() },
        );
      }
      mine.requests += g.requests;
      for (const c of g.seen) if (mine.seen.size < 10_000) mine.seen.add(c);
      for (const e of g.examples) if (mine.examples.length < SAMPLES) mine.examples.push(e);
    }
  }

  #storms(): SuspiciousGroup | undefined {
    return notFoundStorms(this.#clients404, this.#top.clients, 1000, SAMPLES);
  }

  #bursts(): ErrorBurst[] {
    return errorBursts([...this.#minutes].map(([m, v]) => [m * 60_000, v.n, v.e5]));
  }
}

/**
 * The 404 storms: clients with at least {@linkcode STORM_MIN} requests
 * answered 404, half or more of theirs, among the `look` most 404'd.
 */
export function notFoundStorms(
  clients404: TopCounter,
  clients: TopCounter,
  look: number,
  examples: number,
): SuspiciousGroup | undefined {
  const all = new Map([...clients.entries()].map(([k, c]) => [k, c.n]));
  const stormy = clients404.top(look).filter((c) =>
    c.requests >= STORM_MIN && c.requests * 2 >= (all.get(c.value) ?? Infinity)
  );
  if (!stormy.length) return undefined;
  return {
    reason: "not_found_storm",
    requests: stormy.reduce((n, c) => n + c.requests, 0),
    clients: stormy.length,
    examples: stormy.slice(0, examples).map((c) => ({
      time: "",
      client: c.value,
      request: `${c.requests} requests answered 404`,
      status: 404,
    })),
  };
}

/**
 * The minutes where 5xx answers spiked (at least {@linkcode BURST_MIN}, and
 * {@linkcode BURST_RATIO} of the minute's requests), next ones joined.
 *
 * @param minutes `[minute start (epoch ms), requests, 5xx]`, in any order.
 */
export function errorBursts(minutes: [number, number, number][]): ErrorBurst[] {
  const out: ErrorBurst[] = [];
  for (const [m, n, e5] of minutes.toSorted((a, b) => a[0] - b[0])) {
    if (e5 < BURST_MIN || e5 < n * BURST_RATIO) continue;
    const prev = out.at(-1);
    if (prev && Date.parse(prev.end) === m) {
      prev.end = new Date(m + 60_000).toISOString();
      prev.requests += n;
      prev.errors_5xx += e5;
    } else {
      out.push({
        start: new Date(m).toISOString(),
        end: new Date(m + 60_000).toISOString(),
        requests: n,
        errors_5xx: e5,
      });
    }
  }
  return out;
}
