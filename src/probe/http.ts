/**
 * The `http` probe (also `https`): one HTTP/1.1 exchange over a socket the
 * probe opens itself, so each phase is measured, not guessed: `dns` (only
 * when a name was resolved), `connect`, `tls` (https), `first_byte`, `total`,
 * cumulative from the start like curl's `time_*`. Checked against `expect`.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { ProbeError, type RunClock } from "./conn.ts";
import { checkCertDays, checkJson, checkLatency, checkStatus } from "./expect.ts";
import { http1Request, type Http1Response } from "./http1.ts";
import { envCaCerts, responseCertExpiry } from "./tls.ts";
import { type Probe, type ProbeContext, type ProbeResult, since } from "./types.ts";

/** Most body bytes read and checked; the rest is not read. */
export const MAX_BODY = 1024 * 1024;

/** Options for {@linkcode createHttpProbe}. */
export interface HttpProbeOptions {
  /** Extra CAs (PEM) to trust; default: the file named by `ASTRON_WATCH_CA_FILE`, if any. */
  caCerts?: string[];
}

/**
 * Make an `http` probe. Expectations: `status` (default 2xx/3xx; redirects
 * are not followed), `body_contains`, `body_regex` (on the first 1 MiB),
 * `max_latency` (on `total`), `cert_days_left` (https). For https the result
 * carries `cert_expiry`, the earliest certificate expiry in epoch seconds.
 *
 * @example
 * ```ts ignore
 * const probe = createHttpProbe({ caCerts: [await Deno.readTextFile("ca.pem")] });
 * const result = await probe(config, { signal: AbortSignal.timeout(5000) });
 * ```
 */
export function createHttpProbe(options: HttpProbeOptions = {}): Probe {
  return (config, ctx) => runHttp(config, ctx, options);
}

/** The `http` probe, trusting the system roots plus `ASTRON_WATCH_CA_FILE`. */
export const httpProbe: Probe = createHttpProbe();

async function runHttp(
  config: ProbeConfig,
  ctx: ProbeContext,
  options: HttpProbeOptions,
): Promise<ProbeResult> {
  const started_at = Date.now();
  const clock: RunClock = { t0: performance.now(), phases: {} };
  let status: number | undefined;
  try {
    const url = new URL(config.url!);
    const caCerts = options.caCerts ?? (url.protocol === "https:" ? envCaCerts() : undefined);
    let body: string;
    let total: number;
    let res: Http1Response | undefined;
    try {
      res = await http1Request(url, {
        method: config.method,
        headers: config.headers,
        body: config.body,
        caCerts,
        signal: ctx.signal,
      }, clock);
      status = res.status;
      body = await readText(res, MAX_BODY);
      total = since(clock.t0);
    } finally {
      res?.close();
    }
    const phases = { ...clock.phases, total };
    const { cert_expiry, error: certError } = await responseCertExpiry(res, ctx.signal);
    const e = config.expect;
    const reason = checkStatus(e, status, { test: (s) => s >= 200 && s < 400, text: "2xx/3xx" }) ??
      checkBody(config, body) ??
      checkLatency(e, total) ??
      checkCertDays(e, cert_expiry, certError);
    return { ok: reason === undefined, reason, phases, status, cert_expiry, started_at };
  } catch (err) {
    return {
      ok: false,
      reason: err instanceof ProbeError ? err.message : errorMessage(err),
      phases: { ...clock.phases, total: since(clock.t0) },
      status,
      started_at,
    };
  }
}

/** The body as text, at most `cap` bytes of it (the rest is left unread). */
async function readText(res: Http1Response, cap: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body()) {
    const room = cap - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    if (size >= cap) break;
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

function checkBody(config: ProbeConfig, body: string): string | undefined {
  const e = config.expect;
  if (e.body_contains !== undefined && !body.includes(e.body_contains)) {
    return `body does not contain ${JSON.stringify(e.body_contains)}`;
  }
  if (e.body_regex && !e.body_regex.test(body)) {
    return `body does not match /${e.body_regex.source}/`;
  }
  return checkJson(e, body);
}
