/**
 * The `http` probe (also `https`): one HTTP/1.1 exchange over a socket the
 * probe opens itself, so each phase is measured, not guessed: `dns` (only
 * when a name was resolved), `connect`, `tls` (https), `first_byte`, `total`,
 * cumulative from the start like curl's `time_*`. Checked against `expect`.
 * With `follow_redirects`, up to {@linkcode MAX_REDIRECTS} redirects are
 * followed, each on a new connection, and the last answer is checked.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { errorCode, ProbeError, type RunClock } from "./conn.ts";
import { checkCertDays, checkJson, checkLatency, checkStatus } from "./expect.ts";
import {
  type Http1Request,
  http1Request,
  type Http1Response,
  preparedOnce,
  prepareRequest,
} from "./http1.ts";
import { envCaCerts, responseCertExpiry } from "./tls.ts";
import {
  type Probe,
  type ProbeContext,
  type ProbeFailure,
  type ProbeResult,
  since,
} from "./types.ts";

/** Most body bytes read and checked; the rest is not read. */
export const MAX_BODY = 1024 * 1024;

/** Most redirects a `follow_redirects` probe follows; one more is a failure (code `redirect`). */
export const MAX_REDIRECTS = 10;

/** The statuses that redirect (with a `Location`). */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Request headers not sent on to another origin (host, port or scheme). */
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

/** Options for {@linkcode createHttpProbe}. */
export interface HttpProbeOptions {
  /** Extra CAs (PEM) to trust; default: the file named by `ASTRON_WATCH_CA_FILE`, if any. */
  caCerts?: string[];
}

/**
 * Make an `http` probe. Expectations: `status` (default 2xx/3xx), `body_contains`,
 * `body_regex` (on the first 1 MiB), `max_latency` (on `total`),
 * `cert_days_left` (https). For https the result carries `cert_expiry`, the
 * earliest certificate expiry in epoch seconds.
 *
 * Redirects are not followed unless the config has `follow_redirects`; then
 * up to {@linkcode MAX_REDIRECTS} are (301, 302, 303, 307, 308 with a
 * `Location`), the result counts them in `redirects` and carries the last
 * answer's status, and the checks apply to that answer. A 303, and a 301 or
 * 302 to a `POST`, continue as `GET` without the body (as browsers do);
 * 307 and 308 repeat the request. Credentials (`Authorization`, `Cookie`,
 * the URL's user and password) go only to the configured URL's origin. The
 * phases are those of the last request, still counted from the start of the
 * run, so they include the redirects before it.
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
  let redirects = 0;
  const counted = () => config.follow_redirects ? { redirects } : {};
  const after = (failure: ProbeFailure) =>
    redirects && failure.code !== "redirect"
      ? `${failure.reason} (after ${redirects} redirect${redirects === 1 ? "" : "s"})`
      : failure.reason;
  try {
    let hop: Http1Request = {
      url: new URL(config.url!),
      method: config.method,
      headers: config.headers,
      body: config.body,
    };
    // The first request is encoded once per config; each run sends the same bytes.
    let request = preparedOnce(config, () => hop);
    let body: string;
    let total: number;
    let res: Http1Response | undefined;
    try {
      while (true) {
        const { url } = hop;
        const caCerts = options.caCerts ?? (url.protocol === "https:" ? envCaCerts() : undefined);
        res = await http1Request(request, { caCerts, signal: ctx.signal }, clock);
        status = res.status;
        const next = config.follow_redirects ? nextHop(hop, res) : undefined;
        if (next === undefined) break;
        res.close();
        if (redirects === MAX_REDIRECTS) {
          throw new ProbeError("redirect", `more than ${MAX_REDIRECTS} redirects`);
        }
        redirects++;
        hop = next;
        request = prepareRequest(hop);
        clock.phases = {};
      }
      body = await readText(res, MAX_BODY);
      total = since(clock.t0);
    } finally {
      res?.close();
    }
    const phases = { ...clock.phases, total };
    const { cert_expiry, error: certError } = await responseCertExpiry(res, ctx.signal);
    const e = config.expect;
    const failed = checkStatus(e, status, { test: (s) => s >= 200 && s < 400, text: "2xx/3xx" }) ??
      checkBody(config, body) ??
      checkLatency(e, total) ??
      checkCertDays(e, cert_expiry, certError);
    return {
      ok: failed === undefined,
      code: failed?.code ?? "ok",
      reason: failed && after(failed),
      phases,
      status,
      ...counted(),
      cert_expiry,
      started_at,
    };
  } catch (err) {
    const code = errorCode(err, "error");
    return {
      ok: false,
      code,
      reason: after({ code, reason: errorMessage(err) }),
      phases: { ...clock.phases, total: since(clock.t0) },
      status,
      ...counted(),
      started_at,
    };
  }
}

/**
 * Where a redirect answer leads, or `undefined` when `res` is not one (not a
 * redirect status, or no `Location`: then it is the answer).
 *
 * @throws {ProbeError} (`redirect`) for a `Location` that is not an http(s) URL.
 */
function nextHop(hop: Http1Request, res: Http1Response): Http1Request | undefined {
  if (!REDIRECT_STATUSES.has(res.status)) return undefined;
  const location = res.headers.get("location");
  if (location === undefined || location === "") return undefined;
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw new ProbeError(
      "redirect",
      `status ${res.status} redirects to ${JSON.stringify(location.slice(0, 100))}, not a URL`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ProbeError(
      "redirect",
      `status ${res.status} redirects to a ${url.protocol.slice(0, -1)} URL, not http or https`,
    );
  }
  url.hash = "";
  const asGet = res.status === 303
    ? hop.method !== "HEAD"
    : (res.status === 301 || res.status === 302) && hop.method === "POST";
  const sameOrigin = url.origin === hop.url.origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(hop.headers)) {
    const lower = name.toLowerCase();
    if (!sameOrigin && CREDENTIAL_HEADERS.has(lower)) continue;
    if (asGet && lower.startsWith("content-")) continue;
    headers[name] = value;
  }
  return {
    url,
    method: asGet ? "GET" : hop.method,
    headers,
    body: asGet ? undefined : hop.body,
  };
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

function checkBody(config: ProbeConfig, body: string): ProbeFailure | undefined {
  const e = config.expect;
  if (e.body_contains !== undefined && !body.includes(e.body_contains)) {
    return { code: "body", reason: `body does not contain ${JSON.stringify(e.body_contains)}` };
  }
  if (e.body_regex && !e.body_regex.test(body)) {
    return { code: "body", reason: `body does not match /${e.body_regex.source}/` };
  }
  return checkJson(e, body);
}
