/**
 * `access_logs:` live: each configured nginx log followed (see
 * `src/tail/follower.ts`), its requests counted per minute, route, method and
 * status in the store, in the same transaction as the file position, so a
 * restart neither loses nor doubles a request. The counts since start feed
 * the `nginx_http_*` metrics.
 *
 * @module
 */

import type { Kysely } from "kysely";
import type { Component } from "../component.ts";
import type { Config } from "../config/schema.ts";
import type { AccessLogConfig } from "../config/access_logs.ts";
import type { Database } from "../store/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { TailBatch } from "../tail/follower.ts";
import { savePosition } from "../tail/positions.ts";
import { TailPoller } from "../tail/poller.ts";
import { compileLogFormat, emptyLine, type LineParser } from "./log_format.ts";
import { methodOf, RouteClassifier } from "./classify.ts";
import { errorMessage } from "../errors.ts";
import { HourSummary } from "./hour_summary.ts";
import { clientOf } from "./aggregate.ts";
import { sameEntries } from "../config/followed.ts";

/** How often the hours' top lists and visitors are saved (and at stop). */
const SUMMARY_SAVE_MS = 5_000;
const HOUR = 3_600_000;
/** Longest stretch of counting before the thread is handed back, ms. */
const SLICE_MS = 4;

/** What the metrics read: requests, bytes and request time since start. */
export interface AccessCounters {
  /** `route|method|status` -> requests. */
  requests: Map<string, number>;
  /** route -> bytes. */
  bytes: Map<string, number>;
}

/** One followed log as `/status` shows it. */
export interface AccessLogStats {
  name: string;
  path: string;
  files: { path: string; size: number; offset: number; behind: number }[];
  lines: number;
  requests: number;
  unparsed: number;
  unparsed_samples: string[];
  cut: number;
  binary: number;
  /** Time of the newest request counted, ISO. */
  last_request?: string;
  problem?: string;
}

/** Options for {@linkcode AccessLogs}. */
export interface AccessLogsOptions {
  configs: AccessLogConfig[];
  db: () => Kysely<Database>;
  logger: Logger;
  /** Called with each request's route and `$request_time` (seconds), when the format has it. */
  onRequestTime?: (route: string, method: string, status: number, seconds: number) => void;
}

class Source {
  /** Set by `#open`, once the positions are loaded. */
  poller!: TailPoller;
  readonly parser: LineParser;
  readonly routes: RouteClassifier;
  /** What this source counted; `stats()` adds the follower's files and counters. */
  readonly stats: Omit<AccessLogStats, "files" | "cut" | "binary" | "problem">;
  /** The hours being counted (loaded from the store when first touched). */
  readonly hours = new Map<number, HourSummary>();
  /** Hours counted since they were last saved. */
  readonly dirty = new Set<number>();
  savedAt = 0;

  constructor(readonly config: AccessLogConfig) {
    const compiled = compileLogFormat(config.format);
    if (!compiled.ok) throw new Error(compiled.error); // validated with the config
    this.parser = compiled.parser;
    this.routes = new RouteClassifier(config.routes);
    this.stats = {
      name: config.name,
      path: config.path,
      lines: 0,
      requests: 0,
      unparsed: 0,
      unparsed_samples: [],
    };
  }

  get id(): string {
    return `access:${this.config.name}`;
  }
}

/** The live access logs, as a component of the agent. */
export class AccessLogs implements Component {
  readonly name = "access_logs";
  readonly #o: AccessLogsOptions;
  #sources: Source[] = [];
  /** Since start, for the metrics. */
  readonly counters: AccessCounters = { requests: new Map(), bytes: new Map() };

  constructor(options: AccessLogsOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#open(this.#o.configs);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#sources.map((s) => s.poller.stop()));
    for (const s of this.#sources) {
      if (!s.dirty.size) continue;
      await this.#o.db().transaction().execute((trx) => this.#saveHours(trx, s, s.hours))
        .then(() => s.dirty.clear())
        .catch((err) =>
          this.#o.logger.warn("access log top lists not saved", {
            log: s.config.name,
            err: errorMessage(err),
          })
        );
    }
  }

  /**
   * The top lists and visitors of `log` (or every log) over the hours that
   * `[since, until)` touches: the saved hours, with the hours in memory fresher.
   */
  async summary(since: number, until: number, log?: string): Promise<HourSummary> {
    const from = Math.floor(since / HOUR) * HOUR;
    const out = new HourSummary();
    const sources = this.#sources.filter((s) => log === undefined || s.config.name === log);
    // A batch being stored joins its hours just after: wait for it, so what the minutes
    // count, the hours count too.
    await Promise.all(sources.map((s) => s.poller.polling));
    let q = this.#o.db().selectFrom("access_hours").select(["source", "hour", "summary"])
      .where("hour", ">=", from).where("hour", "<", until);
    if (log !== undefined) q = q.where("source", "=", `access:${log}`);
    const rows = await q.execute();
    for (const r of rows) {
      const s = sources.find((x) => x.id === r.source);
      if (s?.hours.has(Number(r.hour))) continue;
      out.merge(HourSummary.parse(r.summary));
    }
    for (const s of sources) {
      for (const [hour, h] of s.hours) if (hour >= from && hour < until) out.merge(h);
    }
    return out;
  }

  /** Write `hours` (each whole) in `trx`. */
  async #saveHours(
    trx: Kysely<Database>,
    s: Source,
    hours: ReadonlyMap<number, HourSummary>,
  ): Promise<void> {
    for (const [hour, h] of hours) {
      await trx.insertInto("access_hours").values({ source: s.id, hour, summary: h.toJSON() })
        .onConflict((oc) => oc.columns(["source", "hour"]).doUpdateSet({ summary: h.toJSON() }))
        .execute();
    }
  }

  /**
   * Save the hours counted since the last save, every few seconds (after a
   * batch, and on each poll so a log gone quiet is saved too). Failing, they
   * stay in memory and are tried again.
   */
  async #saveDue(s: Source): Promise<void> {
    if (!s.dirty.size || Date.now() - s.savedAt < SUMMARY_SAVE_MS) return;
    const hours = new Map([...s.dirty].map((hour) => [hour, s.hours.get(hour)!]));
    s.savedAt = Date.now();
    try {
      await this.#o.db().transaction().execute((trx) => this.#saveHours(trx, s, hours));
      for (const hour of hours.keys()) s.dirty.delete(hour);
    } catch (err) {
      this.#o.logger.warn("access log top lists not saved; trying again", {
        log: s.config.name,
        err: errorMessage(err),
      });
    }
  }

  /** The hour's summary as counted so far: from memory, else from the store. */
  async #hour(s: Source, hour: number): Promise<HourSummary> {
    let h = s.hours.get(hour);
    if (h) return h;
    const row = await this.#o.db().selectFrom("access_hours").select("summary")
      .where("source", "=", s.id).where("hour", "=", hour).executeTakeFirst();
    h = row ? HourSummary.parse(row.summary) : new HourSummary();
    s.hours.set(hour, h);
    return h;
  }

  async reload(config: Config): Promise<void> {
    if (sameEntries(config.access_logs, this.#o.configs)) return;
    await this.stop();
    this.#o.configs = config.access_logs;
    await this.#open(config.access_logs);
  }

  /** Each log, for `/status` and the API. */
  stats(): AccessLogStats[] {
    return this.#sources.map((s) => {
      const f = s.poller.follower;
      return { ...s.stats, files: f.files(), cut: f.cut, binary: f.binary, problem: f.problem };
    });
  }

  async #open(configs: AccessLogConfig[]): Promise<void> {
    const sources: Source[] = [];
    for (const c of configs) {
      const s = new Source(c);
      s.poller = await TailPoller.open({
        source: s.id,
        entry: c,
        db: this.#o.db,
        logger: this.#o.logger,
        what: "access log",
        take: (b) => this.#take(s, b),
        afterPoll: () => this.#saveDue(s),
      });
      sources.push(s);
    }
    this.#sources = sources;
    for (const s of sources) s.poller.start();
  }

  /** Count a batch of lines and store the counts with the new position, in one transaction. */
  async #take(s: Source, batch: TailBatch): Promise<void> {
    const line = emptyLine();
    const rows = new Map<string, {
      minute: number;
      route: string;
      method: string;
      status: number;
      requests: number;
      bytes: number;
      time_sum: number;
      time_count: number;
    }>();
    let unparsed = 0;
    const samples: string[] = [];
    const timed: [string, string, number, number][] = [];
    let last = -Infinity;
    const now = Date.now();
    // The batch's top lists and visitors, per hour: added to the hours kept once it is stored.
    const counted = new Map<number, HourSummary>();
    // Counting is synchronous: hand the thread back every few ms, so probe runs start on time.
    let slice = performance.now();
    let n = 0;
    for (const text of batch.lines) {
      if (++n % 64 === 0 && performance.now() - slice > SLICE_MS) {
        await new Promise((r) => setTimeout(r, 0));
        slice = performance.now();
      }
      if (!s.parser.parse(text, line)) {
        unparsed++;
        if (samples.length < 5) samples.push(text.slice(0, 500));
        continue;
      }
      // A format without a time counts its requests when they are read.
      if (!s.parser.hasTime) line.time = now;
      const minute = Math.floor(line.time / 60_000) * 60_000;
      const route = s.routes.route(line.path);
      const method = methodOf(line.method);
      const key = `${minute}|${route}|${method}|${line.status}`;
      let r = rows.get(key);
      if (!r) {
        rows.set(
          key,
          r = {
            minute,
            route,
            method,
            status: line.status,
            requests: 0,
            bytes: 0,
            time_sum: 0,
            time_count: 0,
          },
        );
      }
      r.requests++;
      r.bytes += line.bytes;
      const hour = Math.floor(line.time / HOUR) * HOUR;
      let h = counted.get(hour);
      if (!h) counted.set(hour, h = new HourSummary());
      h.add(line, clientOf(line, s.config.client));
      if (line.requestTime === line.requestTime) {
        r.time_sum += line.requestTime;
        r.time_count++;
        timed.push([route, method, line.status, line.requestTime]);
      }
      if (line.time > last) last = line.time;
    }
    const source = s.id;
    // The hours it adds to, read before the batch is stored: nothing is left to undo after.
    for (const hour of counted.keys()) await this.#hour(s, hour);
    await this.#o.db().transaction().execute(async (trx) => {
      const values = [...rows.values()].map((r) => ({ source, ...r }));
      for (let i = 0; i < values.length; i += 200) {
        await trx.insertInto("access_minutes").values(values.slice(i, i + 200))
          .onConflict((oc) =>
            oc.columns(["source", "minute", "route", "method", "status"]).doUpdateSet((eb) => ({
              requests: eb("access_minutes.requests", "+", eb.ref("excluded.requests")),
              bytes: eb("access_minutes.bytes", "+", eb.ref("excluded.bytes")),
              time_sum: eb("access_minutes.time_sum", "+", eb.ref("excluded.time_sum")),
              time_count: eb("access_minutes.time_count", "+", eb.ref("excluded.time_count")),
            }))
          ).execute();
      }
      await savePosition(trx, source, batch.position);
    });
    // Stored: the batch counts in its hours, saved every few seconds (see #saveDue).
    for (const [hour, h] of counted) {
      s.hours.get(hour)!.merge(h); // read above
      s.dirty.add(hour);
    }
    await this.#saveDue(s);
    // Keep the two newest hours in memory, and those not saved yet (an older one is read again).
    for (const k of [...s.hours.keys()].sort((a, b) => a - b).slice(0, -2)) {
      if (!s.dirty.has(k)) s.hours.delete(k);
    }
    // Durable: now it counts.
    s.stats.lines += batch.lines.length;
    s.stats.unparsed += unparsed;
    for (const x of samples) {
      if (s.stats.unparsed_samples.length < 5) s.stats.unparsed_samples.push(x);
    }
    let requests = 0;
    for (const r of rows.values()) {
      requests += r.requests;
      const k = `${r.route}|${r.method}|${r.status}`;
      this.counters.requests.set(k, (this.counters.requests.get(k) ?? 0) + r.requests);
      this.counters.bytes.set(r.route, (this.counters.bytes.get(r.route) ?? 0) + r.bytes);
    }
    s.stats.requests += requests;
    if (Number.isFinite(last)) {
      const prev = s.stats.last_request ? Date.parse(s.stats.last_request) : -Infinity;
      if (last > prev) s.stats.last_request = new Date(last).toISOString();
    }
    if (this.#o.onRequestTime) { for (const t of timed) this.#o.onRequestTime(...t); }
  }
}
