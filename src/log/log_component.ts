/**
 * The agent's log component: puts the rotating file sink under the logger
 * (beside stderr when that is a terminal or the systemd journal, or as
 * `log.stderr` says), swaps it on a reload that changes the file settings,
 * and reports the sink's health and counters.
 *
 * @module
 */

import { join } from "node:path";
import type { Config, LogConfig } from "../config/schema.ts";
import type { Logger, LogSink } from "./logger.ts";
import { RotatingFileSink, type RotatingFileSinkStats } from "./rotating_file_sink.ts";
import type { Component } from "../component.ts";

/** A write failure this recent makes the sink "not ready". */
const FAILING_FOR_MS = 10_000;

/** True when stderr should carry the log too (`auto`: a terminal, or systemd's journal). */
export function stderrWanted(config: LogConfig): boolean {
  if (config.stderr !== "auto") return config.stderr === "always";
  return Deno.stderr.isTerminal() || Deno.env.get("JOURNAL_STREAM") !== undefined;
}

function fileSettings(c: LogConfig): string {
  return JSON.stringify([
    c.dir,
    c.file,
    c.max_size,
    c.keep,
    c.compress,
    c.flush_interval,
    c.max_age,
  ]);
}

/** The `log` component. */
export class LogComponent implements Component {
  readonly name = "log";
  readonly #logger: Logger;
  readonly #stderr: LogSink;
  #config: LogConfig;
  #sink?: RotatingFileSink;

  /**
   * @param logger the agent's logger; its sinks are replaced on start.
   * @param stderr the sink that carried the log before the file was open.
   */
  constructor(logger: Logger, config: LogConfig, stderr: LogSink) {
    this.#logger = logger;
    this.#config = config;
    this.#stderr = stderr;
  }

  /** The live log file. */
  get path(): string {
    return join(this.#config.dir, this.#config.file);
  }

  /** Make the directory and put the file sink under the logger; rejects when the directory cannot be made. */
  async start(): Promise<void> {
    await this.#open(this.#config);
  }

  async #open(config: LogConfig): Promise<void> {
    try {
      await Deno.mkdir(config.dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new Error(
        `cannot create log.dir ${config.dir}: ${err instanceof Error ? err.message : err}`,
      );
    }
    const old = this.#sink;
    this.#sink = new RotatingFileSink({
      path: join(config.dir, config.file),
      maxSize: config.max_size,
      keep: config.keep,
      compress: config.compress,
      maxAge: config.max_age,
      flushInterval: config.flush_interval,
    });
    this.#config = config;
    this.#logger.setSinks(stderrWanted(config) ? [this.#sink, this.#stderr] : [this.#sink]);
    await old?.close();
    // Leftovers of a killed run (.gz.tmp, uncompressed rotated files) go now, not at the first rotation.
    await this.#sink.open();
  }

  /** A new file, size or retention opens a new sink (the old one is flushed and closed). */
  async reload({ log: config }: Config): Promise<void> {
    if (fileSettings(config) !== fileSettings(this.#config)) await this.#open(config);
    else {
      this.#config = config;
      this.#logger.setSinks(stderrWanted(config) ? [this.#sink!, this.#stderr] : [this.#sink!]);
    }
  }

  /** Undefined while writes succeed; the last error while they have been failing. */
  readiness(): string | undefined {
    const s = this.#sink?.stats();
    if (!s?.last_error_at) return undefined;
    if (Date.now() - Date.parse(s.last_error_at) > FAILING_FOR_MS) return undefined;
    return `writing ${this.path} fails: ${s.last_error}`;
  }

  /** The sink's counters (written, dropped, errors, rotations, ...). */
  stats(): RotatingFileSinkStats | undefined {
    return this.#sink?.stats();
  }

  /** Flush everything and close the file; later lines go to stderr. */
  async stop(): Promise<void> {
    this.#logger.info("log closed", { path: this.path, ...this.#sink?.stats() });
    this.#logger.setSinks([this.#stderr]);
    await this.#sink?.close();
  }
}
