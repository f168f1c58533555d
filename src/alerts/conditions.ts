/**
 * Each rule condition as a function of what the agent already keeps: the
 * probe board (state and an hour of samples), the metric rollups (the
 * platform's `server_request_total` and latency histograms per minute), the
 * store's indexes on runs (`start_time`, `is_error`, `error_log`), the
 * store's size and the log sink's counters. No condition scans raw runs:
 * counts come from index ranges, and only the runs an ERROR-log index entry
 * points at are opened.
 *
 * @module
 */

import type { Kysely } from "kysely";
import type { AlertCondition } from "../config/alerts.ts";
import { globMatch } from "./matchers.ts";
import type { Database } from "../store/schema.ts";
import type { ProbeState } from "../probe/board.ts";
import type { ProbeResult } from "../probe/types.ts";
import type { ServicesResult } from "../rollups/read.ts";
import { parseLog } from "../store/search.ts";
import { percentile } from "../stats.ts";

/** One alert instance's reading in one evaluation. */
export interface Sample {
  /** The condition's labels (`probe`, `service`, ...). */
  labels: Record<string, string>;
  value: number;
  /** The value for people: `1.52%`, `523ms`, `3 runs`. */
  text: string;
  /** Whether the condition holds. */
  active: boolean;
  /**
   * No verdict yet (a probe not run since the start): an alert on this
   * series keeps its state instead of resolving.
   */
  unknown?: boolean;
  /** More for the message (the failing reason, matching sids and the first line). */
  details?: string;
}

/** A probe as the conditions see it. */
export interface ProbeView {
  name: string;
  state: ProbeState;
  failures: number;
  last?: ProbeResult;
  /** Samples of the last hour, oldest first. */
  samples: readonly { at: number; ok: boolean; ms: number }[];
}

/** What conditions read. Each evaluation cycle gets one, so reads are shared between rules. */
export interface AlertInputs {
  now: number;
  probes(): readonly ProbeView[];
  /** The rollups' services summary over `window` ms. */
  services(window: number): Promise<ServicesResult>;
  /** The store's database; throws while it is down. */
  db(): Kysely<Database>;
  /** The store's bytes and its `max_size`. */
  storeUsage(): Promise<{ bytes: number; max: number }>;
  /** Log lines dropped `window` ms ago and now (undefined before the log is open). */
  logDrops(window: number): { then: number; now: number } | undefined;
  /** The agent's API, for links. */
  externalUrl: string;
  /** The `service_logs` entries' names. */
  serviceLogs?(): readonly string[];
  /** Each backup job's last good backup (epoch ms), or since when it has had none. */
  backups?(): readonly BackupAge[];
}

/** A backup job as `backup_age` sees it. */
export interface BackupAge {
  job: string;
  /** When its last good backup ended, epoch ms. */
  last_success?: number;
  /** Measured from here when there is none yet (the agent's start). */
  since: number;
}

/** Memoizes reads shared by rules within one cycle. */
export class CycleReads {
  readonly #cache = new Map<string, Promise<unknown>>();
  constructor(readonly inputs: AlertInputs) {}

  /** Read once per key per cycle. */
  once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.#cache.get(key) as Promise<T> | undefined;
    if (!p) this.#cache.set(key, p = read());
    return p;
  }
}

/** Evaluate one condition. Rejects when its source cannot be read (the rule keeps its state). */
export function evaluate(c: AlertCondition, reads: CycleReads): Promise<Sample[]> {
  switch (c.kind) {
    case "probe_down":
      return Promise.resolve(probeDown(c.probes, reads.inputs));
    case "cert_expiry":
      return Promise.resolve(certExpiry(c.probes, c.days, reads.inputs));
    case "error_ratio":
      return errorRatio(c, reads);
    case "latency":
      return latency(c, reads);
    case "node_log":
      return nodeLog(c, reads);
    case "absent":
      return absent(c, reads);
    case "store_budget":
      return storeBudget(c.above, reads);
    case "log_drops":
      return Promise.resolve(logDrops(c.window, c.min, reads.inputs));
    case "backup_age":
      return Promise.resolve(backupAge(c.jobs, c.older_than, reads.inputs));
    case "service_log":
      return serviceLog(c, reads);
  }
}

/** A ratio for people: `1.52%`. */
export function percentText(v: number): string {
  const p = v * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 1 ? p.toFixed(2) : p.toPrecision(2)}%`;
}

/** Milliseconds for people: `523ms`, `2.10s`. */
export function msText(ms: number): string {
  return ms < 1000 ? `${Math.round(ms * 100) / 100}ms` : `${(ms / 1000).toFixed(2)}s`;
}

function matchProbes(globs: readonly string[], inputs: AlertInputs): ProbeView[] {
  return inputs.probes().filter((p) => globs.some((g) => globMatch(g, p.name)));
}

function probeDown(globs: readonly string[], inputs: AlertInputs): Sample[] {
  return matchProbes(globs, inputs).map((p) => ({
    labels: { probe: p.name },
    value: p.failures,
    text: `${p.failures} failures in a row`,
    active: p.state === "down",
    unknown: p.state === "pending",
    details: p.last && !p.last.ok ? `${p.last.code}: ${p.last.reason ?? ""}`.trim() : undefined,
  }));
}

async function serviceLog(
  c: Extract<AlertCondition, { kind: "service_log" }>,
  reads: CycleReads,
): Promise<Sample[]> {
  const db = reads.inputs.db();
  const from = Math.floor((reads.inputs.now - c.window) / 60_000) * 60_000;
  const rows = await db.selectFrom("service_log_minutes")
    .select(["source", (eb) => eb.fn.sum<number>(c.keywords_only ? "matches" : "lines").as("n")])
    .where("minute", ">=", from).where("level", "in", c.levels).groupBy("source").execute();
  const counts = new Map(rows.map((r) => [r.source.replace(/^service:/, ""), Number(r.n)]));
  const names = reads.inputs.serviceLogs?.() ?? [...counts.keys()];
  const out: Sample[] = [];
  for (const log of names) {
    if (!c.logs.some((g) => globMatch(g, log))) continue;
    const n = counts.get(log) ?? 0;
    let details: string | undefined;
    if (n >= c.count) {
      const last = await db.selectFrom("service_log_lines").select(["file", "line"])
        .where("source", "=", `service:${log}`).where("at", ">=", from)
        .where("level", "in", c.levels).$if(c.keywords_only, (q) => q.where("example", "=", 1))
        .orderBy("at", "desc").limit(1).executeTakeFirst();
      if (last) details = `${last.file}: ${last.line.slice(0, 300)}`;
    }
    out.push({
      labels: { log },
      value: n,
      text: `${n} ${c.levels.join("/")} line${n === 1 ? "" : "s"}`,
      active: n >= c.count,
      details,
    });
  }
  return out;
}

function backupAge(globs: readonly string[], olderThan: number, inputs: AlertInputs): Sample[] {
  return (inputs.backups?.() ?? []).filter((b) => globs.some((g) => globMatch(g, b.job)))
    .map((b) => {
      const age = inputs.now - (b.last_success ?? b.since);
      return {
        labels: { job: b.job },
        value: Math.round(age / 1000),
        text: b.last_success
          ? `last good backup ${durationText(age)} ago`
          : `no good backup in ${durationText(age)}`,
        active: age > olderThan,
        details: b.last_success
          ? `last good backup ${new Date(b.last_success).toISOString()}`
          : undefined,
      };
    });
}

/** A long span for people: `26.5h`, `3.2d`, `45m`. */
function durationText(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48
    ? `${(h / 24).toFixed(1)}d`
    : h >= 1
    ? `${h.toFixed(1)}h`
    : `${Math.round(ms / 60_000)}m`;
}

function certExpiry(globs: readonly string[], days: number, inputs: AlertInputs): Sample[] {
  const out: Sample[] = [];
  for (const p of matchProbes(globs, inputs)) {
    const expiry = p.last?.cert_expiry;
    if (expiry === undefined) continue;
    const left = (expiry * 1000 - inputs.now) / 86_400_000;
    out.push({
      labels: { probe: p.name },
      value: Math.floor(left * 10) / 10,
      text: `${Math.floor(left)} days left`,
      active: left < days,
      details: `certificate expires ${new Date(expiry * 1000).toISOString()}`,
    });
  }
  return out;
}

function inWindow(p: ProbeView, since: number) {
  return p.samples.filter((s) => s.at >= since);
}

async function errorRatio(
  c: Extract<AlertCondition, { kind: "error_ratio" }>,
  reads: CycleReads,
): Promise<Sample[]> {
  const { inputs } = reads;
  const sample = (labels: Record<string, string>, total: number, errors: number): Sample => {
    const ratio = total > 0 ? errors / total : 0;
    return {
      labels,
      value: ratio,
      text: percentText(ratio),
      active: total >= c.min_requests && ratio > c.threshold,
      details: `${errors} of ${total} failed`,
    };
  };
  if (c.source === "probes") {
    return matchProbes(c.match, inputs).map((p) => {
      const s = inWindow(p, inputs.now - c.window);
      return sample({ probe: p.name }, s.length, s.filter((x) => !x.ok).length);
    });
  }
  if (c.source === "workflow") {
    const { total, errors } = await workflowCounts(c.window, reads);
    return [sample({ source: "workflow" }, total, errors)];
  }
  if (c.source === "access_log") {
    // 5xx answers over all requests, per access log and route family.
    const rows = await reads.once(`access:${c.window}`, async () => {
      const { routeErrors } = await import("../access/query.ts");
      return routeErrors(inputs.db(), inputs.now - c.window);
    });
    return rows.filter((x) => c.match.some((g) => globMatch(g, x.route)))
      .map((x) => sample({ log: x.log, route: x.route }, x.requests, x.errors));
  }
  const services = await reads.once(`services:${c.window}`, () => inputs.services(c.window));
  const out: Sample[] = [];
  for (const s of services.services) {
    if (!c.match.some((g) => globMatch(g, s.service))) continue;
    if (c.by_func) {
      for (const f of s.funcs) {
        if (!globMatch(c.func, f.func)) continue;
        out.push(sample({ service: s.service, func: f.func }, f.requests, f.errors));
      }
    } else if (c.func === "*") {
      out.push(sample({ service: s.service }, s.requests, s.errors));
    } else {
      const funcs = s.funcs.filter((f) => globMatch(c.func, f.func));
      const sum = (k: "requests" | "errors") => funcs.reduce((n, f) => n + f[k], 0);
      out.push(sample({ service: s.service }, sum("requests"), sum("errors")));
    }
  }
  return out;
}

/** Runs and failed runs started within the window: two index-only counts. */
function workflowCounts(window: number, reads: CycleReads) {
  return reads.once(`workflow:${window}`, async () => {
    const db = reads.inputs.db();
    const since = reads.inputs.now - window;
    const count = (q: ReturnType<typeof db.selectFrom<"runs">>) =>
      q.select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).executeTakeFirstOrThrow()
        .then((r) => Number(r.n));
    const [total, errors] = await Promise.all([
      count(db.selectFrom("runs").where("start_time", ">=", since)),
      count(db.selectFrom("runs").where("is_error", "=", 1).where("start_time", ">=", since)),
    ]);
    return { total, errors };
  });
}

async function latency(
  c: Extract<AlertCondition, { kind: "latency" }>,
  reads: CycleReads,
): Promise<Sample[]> {
  const { inputs } = reads;
  const name = `p${Math.round(c.quantile * 100)}`;
  const sample = (labels: Record<string, string>, v: number | null, n: number): Sample => ({
    labels,
    value: v ?? 0,
    text: v === null ? "no data" : `${name} ${msText(v)}`,
    active: v !== null && n >= c.min_requests && v > c.above,
    details: `${n} observations; bound ${msText(c.above)}`,
  });
  if (c.source === "probes") {
    return matchProbes(c.match, inputs).map((p) => {
      const ms = inWindow(p, inputs.now - c.window).map((s) => s.ms).sort((a, b) => a - b);
      return sample({ probe: p.name }, percentile(ms, c.quantile), ms.length);
    });
  }
  if (c.source === "workflow") {
    const { total } = await workflowCounts(c.window, reads);
    if (total === 0) return [sample({ source: "workflow" }, null, 0)];
    // The run at the quantile's rank from the top: one ordered read within the window.
    const row = await inputs.db().selectFrom("runs").select("duration")
      .where("start_time", ">=", inputs.now - c.window)
      .orderBy("duration", "desc").limit(1).offset(Math.floor(total * (1 - c.quantile)))
      .executeTakeFirst();
    return [sample({ source: "workflow" }, row ? Number(row.duration) : null, total)];
  }
  const services = await reads.once(`services:${c.window}`, () => inputs.services(c.window));
  const key = name as "p50" | "p90" | "p99";
  return services.services.filter((s) => c.match.some((g) => globMatch(g, s.service)))
    .map((s) =>
      sample({ service: s.service }, s.latency_ms?.[key] ?? null, s.latency_ms?.count ?? 0)
    );
}

/** Most runs one `node_log` evaluation opens (newest first); the count says "at least" past it. */
const NODE_LOG_SCAN = 500;

async function nodeLog(
  c: Extract<AlertCondition, { kind: "node_log" }>,
  reads: CycleReads,
): Promise<Sample[]> {
  const db = reads.inputs.db();
  const since = reads.inputs.now - c.window;
  const runs = await reads.once(
    `error_log:${c.window}`,
    () =>
      db.selectFrom("runs").select(["sid", "start_time"])
        .where("error_log", "=", 1).where("start_time", ">=", since)
        .orderBy("start_time", "desc").limit(NODE_LOG_SCAN).execute(),
  );
  const keywords = c.keywords;
  const matches = (message: string) =>
    c.regex ? c.regex.test(message) : !keywords.length || keywords.some((k) => message.includes(k));
  const hits: { sid: string; line: string }[] = [];
  const sids = runs.map((r) => r.sid);
  for (let i = 0; i < sids.length; i += 100) {
    const batch = sids.slice(i, i + 100);
    const nodes = await reads.once(
      `nodes:${c.window}:${i}`,
      () =>
        db.selectFrom("nodes").select(["sid", "record"]).where("sid", "in", batch)
          .orderBy("sid").orderBy("idx").execute(),
    );
    const found = new Map<string, string>();
    for (const n of nodes) {
      if (found.has(n.sid)) continue;
      const line = errorLine(n.record, c.level, matches);
      if (line !== undefined) found.set(n.sid, line);
    }
    for (const sid of batch) if (found.has(sid)) hits.push({ sid, line: found.get(sid)! });
  }
  const n = hits.length;
  const capped = runs.length === NODE_LOG_SCAN;
  const links = hits.slice(0, 5).map((h) => `${reads.inputs.externalUrl}/api/v1/traces/${h.sid}`);
  return [{
    labels: {},
    value: n,
    text: `${capped ? "at least " : ""}${n} run${n === 1 ? "" : "s"}`,
    active: n >= c.count,
    details: n ? `${hits[0].line}\n${links.join("\n")}` : undefined,
  }];
}

/** The first log line of a node record at `level` whose message matches, as `LEVEL message`. */
function errorLine(
  record: string,
  level: string,
  matches: (message: string) => boolean,
): string | undefined {
  if (!record.includes(level)) return undefined;
  let node: { logs?: unknown };
  try {
    node = JSON.parse(record);
  } catch {
    return undefined;
  }
  if (!Array.isArray(node.logs)) return undefined;
  for (const raw of node.logs) {
    if (typeof raw !== "string") continue;
    const log = parseLog(raw);
    if (log && log.level.toUpperCase() === level && matches(log.message)) {
      return `${log.level} ${log.message.slice(0, 500)}`;
    }
  }
  return undefined;
}

async function absent(
  c: Extract<AlertCondition, { kind: "absent" }>,
  reads: CycleReads,
): Promise<Sample[]> {
  const { inputs } = reads;
  const sample = (labels: Record<string, string>, last: number | undefined): Sample => {
    const quiet = last === undefined ? Infinity : inputs.now - last;
    return {
      labels,
      value: last === undefined ? -1 : Math.round(quiet / 1000),
      text: last === undefined ? "never heard from" : `silent for ${msText(quiet)}`,
      active: quiet > c.window,
      details: last === undefined ? undefined : `last seen ${new Date(last).toISOString()}`,
    };
  };
  if (c.source === "probes") {
    return matchProbes(c.match, inputs).map((p) =>
      sample({ probe: p.name }, p.samples.at(-1)?.at ?? p.last?.started_at)
    );
  }
  if (c.source === "workflow") {
    const row = await inputs.db().selectFrom("runs")
      .select((eb) => eb.fn.max("start_time").as("t")).executeTakeFirst();
    const t = row?.t === null || row?.t === undefined ? undefined : Number(row.t);
    return [sample({ source: "workflow" }, t)];
  }
  const services = await reads.once(`services:60000`, () => inputs.services(60_000));
  const seen = new Map(services.services.map((s) => [s.service, s.last_seen]));
  const out: Sample[] = [];
  for (const g of c.match) {
    if (/[*?]/.test(g)) {
      for (const [service, last] of seen) {
        if (globMatch(g, service)) out.push(sample({ service }, last));
      }
    } else {
      out.push(sample({ service: g }, seen.get(g)));
    }
  }
  return out;
}

async function storeBudget(above: number, reads: CycleReads): Promise<Sample[]> {
  const { bytes, max } = await reads.inputs.storeUsage();
  const ratio = max > 0 ? bytes / max : 0;
  return [{
    labels: {},
    value: ratio,
    text: percentText(ratio),
    active: ratio > above,
    details: `${(bytes / 1e6).toFixed(1)} MB of ${(max / 1e6).toFixed(0)} MB (store.max_size)`,
  }];
}

function logDrops(window: number, min: number, inputs: AlertInputs): Sample[] {
  const d = inputs.logDrops(window);
  if (!d) return [];
  const n = Math.max(0, d.now - d.then);
  return [{ labels: {}, value: n, text: `${n} lines dropped`, active: n >= min }];
}
