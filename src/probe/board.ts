/**
 * The probe board: each probe's state ("up" / "down" after `retries`
 * failures in a row), its last result, and an hour of history in memory for
 * p50/p90/p99 and uptime. `/status` and `/api/v1/probes` read from here.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import { formatHostPort } from "../config/reader.ts";
import type { ProbeCode, ProbeResult } from "./types.ts";
import { redactUrl } from "../text_redact.ts";
import { percentile } from "../stats.ts";

/** A probe's state: no result yet, up, or down (failed `retries` times in a row). */
export type ProbeState = "pending" | "up" | "down";

/** One past run, as kept for the window. */
export interface ProbeSample {
  at: number;
  ok: boolean;
  ms: number;
}

/** What the API shows for one probe. */
export interface ProbeStatus {
  name: string;
  type: string;
  kind: string;
  target: string;
  state: ProbeState;
  /** Failures in a row, now. */
  failures: number;
  last?: ProbeResult;
  last_error?: { at: number; code: ProbeCode; reason: string };
  /** Latency percentiles (ms) and uptime (0-1) over the window; null before any run. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  uptime: number | null;
  runs: number;
}

/** Options for {@linkcode ProbeBoard}. */
export interface ProbeBoardOptions {
  /** How far back percentiles and uptime look; default one hour. */
  windowMs?: number;
  /** Most samples kept per probe; default 4096. */
  maxSamples?: number;
}

interface Entry {
  config: ProbeConfig;
  state: ProbeState;
  failures: number;
  last?: ProbeResult;
  lastError?: { at: number; code: ProbeCode; reason: string };
  samples: ProbeSample[];
}

/** Where a probe points, for display: its URL or `host:port`. */
export function probeTarget(config: ProbeConfig): string {
  if (config.url) return redactUrl(config.url);
  return config.target ? formatHostPort(config.target) : "";
}

/** Holds every probe's state and recent history. */
export class ProbeBoard {
  readonly #entries = new Map<string, Entry>();
  readonly #windowMs: number;
  readonly #maxSamples: number;

  constructor(options: ProbeBoardOptions = {}) {
    this.#windowMs = options.windowMs ?? 3_600_000;
    this.#maxSamples = options.maxSamples ?? 4096;
  }

  /** Match the board to a probe list: new names added, gone names removed, history kept for the rest. */
  sync(configs: readonly ProbeConfig[]): void {
    const names = new Set(configs.map((c) => c.name));
    for (const name of this.#entries.keys()) if (!names.has(name)) this.#entries.delete(name);
    for (const config of configs) {
      const entry = this.#entries.get(config.name);
      if (entry) entry.config = config;
      else this.#entries.set(config.name, { config, state: "pending", failures: 0, samples: [] });
    }
  }

  /** Record one run's result; returns the probe's state after it. */
  record(name: string, result: ProbeResult): ProbeState | undefined {
    const e = this.#entries.get(name);
    if (!e) return undefined;
    e.last = result;
    if (result.ok) {
      e.failures = 0;
      e.state = "up";
    } else {
      e.failures++;
      e.lastError = { at: result.started_at, code: result.code, reason: result.reason ?? "failed" };
      if (e.failures >= e.config.retries) e.state = "down";
    }
    e.samples.push({ at: result.started_at, ok: result.ok, ms: result.phases.total });
    if (e.samples.length > this.#maxSamples) {
      e.samples.splice(0, e.samples.length - this.#maxSamples);
    }
    return e.state;
  }

  /** The names of all probes on the board. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** One probe's status, or `undefined` for an unknown name. */
  status(name: string, now = Date.now()): ProbeStatus | undefined {
    const e = this.#entries.get(name);
    if (!e) return undefined;
    const from = now - this.#windowMs;
    const recent = e.samples.filter((s) => s.at >= from);
    const sorted = recent.map((s) => s.ms).sort((a, b) => a - b);
    return {
      name,
      type: e.config.type,
      kind: e.config.kind,
      target: probeTarget(e.config),
      state: e.state,
      failures: e.failures,
      last: e.last,
      last_error: e.lastError,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      uptime: recent.length ? recent.filter((s) => s.ok).length / recent.length : null,
      runs: recent.length,
    };
  }

  /** Every probe's status, in config order. */
  list(now = Date.now()): ProbeStatus[] {
    return this.names().map((n) => this.status(n, now)!);
  }

  /** Every probe's state, failures, last result and samples (newest last), unsummarized: what alert rules read. */
  views(): {
    name: string;
    state: ProbeState;
    failures: number;
    last?: ProbeResult;
    samples: readonly ProbeSample[];
  }[] {
    return [...this.#entries].map(([name, e]) => ({
      name,
      state: e.state,
      failures: e.failures,
      last: e.last,
      samples: e.samples,
    }));
  }

  /** The most recent samples of one probe, newest last. */
  history(name: string, limit = 100): ProbeSample[] {
    return this.#entries.get(name)?.samples.slice(-limit) ?? [];
  }
}
