/**
 * Probe history in the store: every run the agent hands over is buffered and
 * written in batches (every few seconds and at shutdown), so
 * `/api/v1/probes/{name}?since=` reaches past the in-memory hour. The probes
 * know nothing of it: the agent wires their results here.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import type { Store } from "./store.ts";
import type { ProbeResultsTable } from "./schema.ts";
import { errorMessage } from "../errors.ts";
import type { ProbeResult } from "../probe/types.ts";
import type { Component } from "../component.ts";

/** Options for {@linkcode ProbeHistory}. */
export interface ProbeHistoryOptions {
  store: Store;
  logger: Logger;
  /** Time between writes, ms; default 5 s. */
  flushInterval?: number;
  /** Most runs buffered; older ones are dropped (and counted) past it. Default 100,000. */
  maxBuffered?: number;
}

/** The `history` component: buffers probe runs and writes them to the store. */
export class ProbeHistory implements Component {
  readonly name = "history";
  readonly #o: ProbeHistoryOptions;
  #buffer: ProbeResultsTable[] = [];
  #timer?: ReturnType<typeof setInterval>;
  #flushing: Promise<void> = Promise.resolve();
  /** Runs dropped because the buffer was full. */
  dropped = 0;

  constructor(options: ProbeHistoryOptions) {
    this.#o = options;
  }

  /** Buffer one run. */
  record(probe: string, result: ProbeResult): void {
    const max = this.#o.maxBuffered ?? 100_000;
    if (this.#buffer.length >= max) {
      this.#buffer.shift();
      this.dropped++;
    }
    const { ok: _ok, reason: _reason, started_at: _at, ...rest } = result;
    this.#buffer.push({
      probe,
      at: result.started_at,
      ok: result.ok ? 1 : 0,
      duration_ms: result.phases.total,
      reason: result.reason ?? "",
      record: JSON.stringify(rest),
    });
  }

  start(): Promise<void> {
    this.#timer = setInterval(() => void this.flush(), this.#o.flushInterval ?? 5_000);
    return Promise.resolve();
  }

  /** Write what is buffered (one write at a time). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      const rows = this.#buffer;
      if (!rows.length) return;
      this.#buffer = [];
      try {
        await this.#o.store.recordProbeResults(rows);
      } catch (err) {
        this.#o.logger.warn("probe history not written", {
          runs: rows.length,
          err: errorMessage(err),
        });
      }
    });
    return this.#flushing;
  }

  /** Write the rest and stop. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
