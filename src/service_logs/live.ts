/**
 * `service_logs:` live: the platform's services' log files followed (see
 * `src/tail/follower.ts`), lines counted per file, level and minute in the
 * store with the file position (one transaction), error lines naming an
 * alert keyword kept as examples, and lines naming a workflow `sid` kept so
 * a run's trace can show them.
 *
 * @module
 */

import type { Kysely } from "kysely";
import { basename } from "node:path";
import type { Component } from "../component.ts";
import type { Config } from "../config/schema.ts";
import type { ServiceLogConfig } from "../config/service_logs.ts";
import type { Database } from "../store/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { TailBatch } from "../tail/follower.ts";
import { savePosition } from "../tail/positions.ts";
import { TailPoller } from "../tail/poller.ts";
import { seriesOf } from "../tail/series.ts";
import { parseJsonLine, parseLoguru, parseWithRegex, type ServiceLine } from "./parse.ts";
import { sameEntries } from "../config/followed.ts";

/** An error line kept as an example. */
export interface ServiceLogExample {
  log: string;
  file: string;
  at: string;
  level: string;
  sid: string;
  line: string;
}

/** One followed entry as `/status` shows it. */
export interface ServiceLogStats {
  name: string;
  path: string;
  files: { path: string; size: number; offset: number; behind: number }[];
  lines: number;
  /** Lines that are not a record's first line (tracebacks) or do not match the format. */
  other: number;
  errors: number;
  examples: number;
  problem?: string;
}

class Entry {
  /** Set by `start`, once the positions are loaded. */
  poller!: TailPoller;
  readonly parse: (line: string) => ServiceLine | undefined;
  /** What this entry counted; `stats()` adds the follower's files and problem. */
  readonly stats: Omit<ServiceLogStats, "files" | "problem">;

  constructor(readonly config: ServiceLogConfig) {
    const re = config.regex;
    this.parse = config.format === "json"
      ? parseJsonLine
      : config.format === "regex" && re
      ? (l) => parseWithRegex(re, l)
      : parseLoguru;
    this.stats = {
      name: config.name,
      path: config.path,
      lines: 0,
      other: 0,
      errors: 0,
      examples: 0,
    };
  }
}

/** The live service logs, as a component of the agent. */
export class ServiceLogs implements Component {
  readonly name = "service_logs";
  #configs: ServiceLogConfig[];
  readonly #db: () => Kysely<Database>;
  readonly #logger: Logger;
  #entries: Entry[] = [];
  /** `file|level` -> lines since start, for the metrics. */
  readonly counters = new Map<string, number>();
  /** The newest examples, newest last. */
  readonly examples: ServiceLogExample[] = [];

  constructor(o: { configs: ServiceLogConfig[]; db: () => Kysely<Database>; logger: Logger }) {
    this.#configs = o.configs;
    this.#db = o.db;
    this.#logger = o.logger;
  }

  async start(): Promise<void> {
    const entries: Entry[] = [];
    for (const c of this.#configs) {
      const e = new Entry(c);
      e.poller = await TailPoller.open({
        source: `service:${c.name}`,
        entry: c,
        db: this.#db,
        logger: this.#logger,
        what: "service log",
        take: (b) => this.#take(e, b),
      });
      entries.push(e);
    }
    this.#entries = entries;
    for (const e of entries) e.poller.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#entries.map((e) => e.poller.stop()));
  }

  async reload(config: Config): Promise<void> {
    if (sameEntries(config.service_logs, this.#configs)) return;
    await this.stop();
    this.#configs = config.service_logs;
    await this.start();
  }

  stats(): ServiceLogStats[] {
    return this.#entries.map((e) => ({
      ...e.stats,
      files: e.poller.follower.files(),
      problem: e.poller.follower.problem,
    }));
  }

  async #take(e: Entry, batch: TailBatch): Promise<void> {
    const file = seriesOf(basename(batch.path));
    const source = `service:${e.config.name}`;
    const minutes = new Map<
      string,
      { level: string; minute: number; lines: number; matches: number }
    >();
    const kept: { level: string; at: number; sid: string; example: number; line: string }[] = [];
    let other = 0, errors = 0;
    const now = Date.now();
    for (const text of batch.lines) {
      const l = e.parse(text);
      if (!l) {
        other++;
        continue;
      }
      const at = Number.isFinite(l.time) ? l.time : now;
      const minute = Math.floor(at / 60_000) * 60_000;
      const isError = e.config.error_levels.includes(l.level);
      const example = isError && e.config.alert_keywords.some((k) => l.message.includes(k));
      if (isError) errors++;
      const key = `${l.level}|${minute}`;
      const m = minutes.get(key) ??
        minutes.set(key, { level: l.level, minute, lines: 0, matches: 0 }).get(key)!;
      m.lines++;
      if (example) m.matches++;
      if (example || l.sid) {
        kept.push({
          level: l.level,
          at,
          sid: l.sid,
          example: example ? 1 : 0,
          line: text.slice(0, 4000),
        });
      }
    }
    await this.#db().transaction().execute(async (trx) => {
      const rows = [...minutes.values()].map((m) => ({ source, file, ...m }));
      for (let i = 0; i < rows.length; i += 200) {
        await trx.insertInto("service_log_minutes").values(rows.slice(i, i + 200))
          .onConflict((oc) =>
            oc.columns(["source", "file", "level", "minute"]).doUpdateSet((eb) => ({
              lines: eb("service_log_minutes.lines", "+", eb.ref("excluded.lines")),
              matches: eb("service_log_minutes.matches", "+", eb.ref("excluded.matches")),
            }))
          ).execute();
      }
      for (let i = 0; i < kept.length; i += 200) {
        await trx.insertInto("service_log_lines")
          .values(kept.slice(i, i + 200).map((k) => ({ source, file, ...k }))).execute();
      }
      await savePosition(trx, source, batch.position);
    });
    e.stats.lines += batch.lines.length;
    e.stats.other += other;
    e.stats.errors += errors;
    for (const m of minutes.values()) {
      const k = `${file}|${m.level}`;
      this.counters.set(k, (this.counters.get(k) ?? 0) + m.lines);
    }
    for (const k of kept) {
      if (!k.example) continue;
      e.stats.examples++;
      this.examples.push({
        log: e.config.name,
        file,
        at: new Date(k.at).toISOString(),
        level: k.level,
        sid: k.sid,
        line: k.line,
      });
      if (this.examples.length > e.config.examples) this.examples.shift();
    }
  }
}
