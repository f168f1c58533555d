/**
 * The logger: levels, JSON-lines or text, child loggers with bound fields.
 * It formats each record once and hands the finished line to its sinks; where
 * the line goes (stderr, a rotating file) is the sink's business, so a new
 * sink plugs in without touching any caller.
 *
 * @example
 * ```ts
 * import { Logger } from "./logger.ts";
 * import { StderrSink } from "./stderr_sink.ts";
 * const log = new Logger({ sinks: [new StderrSink()] });
 * const probeLog = log.child({ probe: "nginx" });
 * probeLog.warn("slow answer", { ms: 812 });
 * ```
 *
 * @module
 */

/** How much the log says, least first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** How each line is written: JSON objects or `key=value` text. */
export type LogFormat = "json" | "text";
import { errorMessage } from "../errors.ts";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where finished lines go. `write` must not block the caller on I/O. */
export interface LogSink {
  /** Take one finished line (ending in `\n`) at `level`. */
  write(line: string, level: LogLevel): void;
  /** Write out everything taken so far. */
  flush(): Promise<void>;
  /** Reopen the underlying file (SIGHUP, or after an external rotation). */
  reopen?(): Promise<void>;
  /** Flush and release the sink; later writes are dropped. */
  close(): Promise<void>;
}

/** Fields bound to a logger or passed with one record. */
export type LogFields = Record<string, unknown>;

/** Options for {@linkcode Logger}. */
export interface LoggerOptions {
  /** Least severe level written; default `info`. */
  level?: LogLevel;
  /** `json` (one object a line) or `text`; default `json`. */
  format?: LogFormat;
  /** Where lines go; default none (a logger that writes nothing). */
  sinks?: LogSink[];
  /** Fields bound to every record. */
  fields?: LogFields;
}

/** What parents and children share: changing the level or sinks reaches all of them. */
interface LoggerCore {
  rank: number;
  format: LogFormat;
  sinks: LogSink[];
}

/** A structured logger. Children share the parent's level, format and sinks. */
export class Logger {
  #core: LoggerCore;
  #fields: LogFields;

  constructor(options: LoggerOptions = {}) {
    this.#core = {
      rank: LEVEL_RANK[options.level ?? "info"],
      format: options.format ?? "json",
      sinks: [...(options.sinks ?? [])],
    };
    this.#fields = { ...options.fields };
  }

  /** A logger whose records carry `fields` as well as this one's. */
  child(fields: LogFields): Logger {
    const c = new Logger();
    c.#core = this.#core;
    c.#fields = { ...this.#fields, ...fields };
    return c;
  }

  /** Change the level for this logger, its parent and all children. */
  setLevel(level: LogLevel): void {
    this.#core.rank = LEVEL_RANK[level];
  }

  /** Change the format for this logger, its parent and all children. */
  setFormat(format: LogFormat): void {
    this.#core.format = format;
  }

  /** Replace the sinks (the old ones are not closed: that is their owner's job). */
  setSinks(sinks: LogSink[]): void {
    this.#core.sinks = [...sinks];
  }

  /** The sinks now in use. */
  get sinks(): readonly LogSink[] {
    return this.#core.sinks;
  }

  /** True when a record at `level` would be written. */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.#core.rank;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  /** Write one record at `level`, if enabled. */
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    const core = this.#core;
    if (LEVEL_RANK[level] < core.rank || core.sinks.length === 0) return;
    const line = formatRecord(core.format, new Date(), level, msg, this.#fields, fields);
    for (const sink of core.sinks) sink.write(line, level);
  }

  /** Flush every sink. */
  async flush(): Promise<void> {
    await Promise.all(this.#core.sinks.map((s) => s.flush()));
  }
}

/**
 * Format one record as a line ending in `\n`.
 *
 * JSON lines: `{"time":"2026-11-25T10:00:00.123Z","level":"info","msg":"...",...fields}`.
 * Text: `2026-11-25T10:00:00.123Z INFO  msg key=value ...`.
 */
export function formatRecord(
  format: LogFormat,
  time: Date,
  level: LogLevel,
  msg: string,
  bound: LogFields,
  fields?: LogFields,
): string {
  const merged: LogFields = fields ? { ...bound, ...fields } : bound;
  if (format === "json") {
    const record: LogFields = { time: time.toISOString(), level, msg };
    for (const [k, v] of Object.entries(merged)) {
      if (!(k in record)) record[k] = v instanceof Error ? errorMessage(v) : v;
    }
    return safeStringify(record) + "\n";
  }
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
  for (const [k, v] of Object.entries(merged)) line += ` ${k}=${textValue(v)}`;
  return line.replaceAll("\n", "\\n") + "\n";
}

function textValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(errorMessage(v));
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return safeStringify(v);
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x) ?? "null";
  } catch {
    return JSON.stringify(String(v));
  }
}
