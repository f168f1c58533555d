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

/**
 * Why a run failed, as a fixed word set where the failure happened (never
 * read back out of the reason): metrics, spans and alerts group by it.
 *
 * - `ok`: up.
 * - `timeout`: the probe's deadline passed; `aborted`: it was stopped (the agent stopping).
 * - `dns`: the name did not resolve; `refused`: nothing listens on the port;
 *   `connect`: any other failure to connect (unreachable, ...).
 * - `reset`: the peer reset or closed the connection before the answer was complete.
 * - `tls`: the handshake failed (untrusted, expired, wrong name, not TLS).
 * - `protocol`: the answer is not the protocol spoken (not HTTP, not RESP, bad framing).
 * - `status`: an HTTP status outside `expect.status`.
 * - `body`: `body_contains`, `body_regex`, `json`, or (sse) not an event stream.
 * - `latency`: `max_latency` or `first_event_within` exceeded.
 * - `cert_expiry`: `cert_days_left` not met (or no certificate to check it on).
 * - `auth`: credentials refused (Redis `AUTH`/`NOAUTH`, PostgreSQL SQLSTATE class 28).
 * - `banner`: the tcp banner did not come.
 * - `stream`: sse: an error event, or the stream ended or finished without `stop`.
 * - `redirect`: `follow_redirects`: more than 10, or a `Location` that cannot be followed.
 * - `config`: the probe could not run as configured (an unreadable CA file, a header with a line break).
 * - `error`: anything else (the reason says what).
 */
export type ProbeCode =
  | "ok"
  | "timeout"
  | "aborted"
  | "dns"
  | "refused"
  | "connect"
  | "reset"
  | "tls"
  | "protocol"
  | "status"
  | "body"
  | "latency"
  | "cert_expiry"
  | "auth"
  | "banner"
  | "stream"
  | "redirect"
  | "config"
  | "error";

/** The outcome of one probe run. */
export interface ProbeResult {
  ok: boolean;
  /** `ok` when up, else why it failed, as a word from a fixed set (see {@linkcode ProbeCode}). */
  code: ProbeCode;
  /** Why it failed (or what was odd), in one line, for people: never parsed. */
  reason?: string;
  phases: ProbePhases;
  /** HTTP status, where there is one. */
  status?: number;
  /** `https`/`sse` over TLS: the earliest certificate expiry (`notAfter`), epoch seconds. */
  cert_expiry?: number;
  /** `http` with `follow_redirects`: how many redirects were followed (0 to 10). */
  redirects?: number;
  /** `sse`: how many events arrived. */
  events?: number;
  /** Epoch ms when the run started. */
  started_at: number;
}

/** A failed check or step: its code, and the one line a user reads. */
export interface ProbeFailure {
  code: ProbeCode;
  reason: string;
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
