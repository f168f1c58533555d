/**
 * What every probe shares: one signature, one result shape. A failing target
 * is data (`ok: false` with a reason), never an exception.
 *
 * @module
 */

import type { ProbeConfig, ProbeType } from "../config/schema.ts";

/**
 * Phase timings in milliseconds, where the protocol has them: each is the
 * time from the start of the run until that phase ended (cumulative, like
 * curl's `time_namelookup`, `time_connect`, `time_appconnect`,
 * `time_starttransfer`, `time_total`), so `dns <= connect <= tls <= first_byte <= total`.
 */
export interface ProbePhases {
  dns?: number;
  connect?: number;
  tls?: number;
  first_byte?: number;
  /** `sse`: when the first event (not the first byte) arrived. */
  first_event?: number;
  total: number;
}

/** The outcome of one probe run. */
export interface ProbeResult {
  ok: boolean;
  /** Why it failed (or what was odd), in one line. */
  reason?: string;
  phases: ProbePhases;
  /** HTTP status, where there is one. */
  status?: number;
  /** `https`/`sse` over TLS: the earliest certificate expiry (`notAfter`), epoch seconds. */
  cert_expiry?: number;
  /** `sse`: how many events arrived. */
  events?: number;
  /** Epoch ms when the run started. */
  started_at: number;
}

/** What the scheduler hands a probe: the deadline as an abort signal. */
export interface ProbeContext {
  signal: AbortSignal;
}

/** A probe: check one target once, honour the signal, never throw. */
export type Probe = (config: ProbeConfig, ctx: ProbeContext) => Promise<ProbeResult>;

/** A probe for every type, so the scheduler never branches on types. */
export type ProbeRegistry = Record<ProbeType, Probe>;

/** Milliseconds since `start` (a `performance.now()` reading), rounded to µs. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}
