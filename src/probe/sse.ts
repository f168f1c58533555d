/**
 * The `sse` probe, for the platform's streaming routes
 * (`POST /workflow/v1/chat/completions`): send the configured request, read
 * the `text/event-stream` answer event by event, and time the first *event*
 * (the platform's "first frame"; headers come at once, so the first byte
 * says little). Each event is `data: {json}` and a blank line; every event
 * carries `code` (0 ok) and `message`; the last has
 * `choices[0].finish_reason == "stop"`.
 *
 * Fails on: a status outside `expect.status` (default 200), an answer that is
 * not an event stream, an event with a non-zero `code`, no event within
 * `expect.first_event_within`, a stream that ends (or is cut by the deadline)
 * before its `stop` event, `max_latency` and `cert_days_left` as for http.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { formatDuration } from "../config/units.ts";
import { abortCode, abortWord, errorCode, type RunClock } from "./conn.ts";
import { checkCertDays, checkLatency, checkStatus } from "./expect.ts";
import type { HttpProbeOptions } from "./http.ts";
import { http1Request, type Http1Response, preparedOnce } from "./http1.ts";
import { envCaCerts, responseCertExpiry } from "./tls.ts";
import {
  type Probe,
  type ProbeContext,
  type ProbeFailure,
  type ProbeResult,
  since,
} from "./types.ts";
import { setLongTimeout } from "../timers.ts";

/** Longest single line accepted in the stream. */
const MAX_LINE = 1024 * 1024;

/**
 * Make an `sse` probe (same options as the http probe: extra CAs).
 *
 * @example
 * ```ts ignore
 * const result = await createSseProbe()(config, { signal: AbortSignal.timeout(60_000) });
 * console.log(result.phases.first_event, result.events);
 * ```
 */
export function createSseProbe(options: HttpProbeOptions = {}): Probe {
  return (config, ctx) => runSse(config, ctx, options);
}

/** The `sse` probe, trusting the system roots plus `ASTRON_WATCH_CA_FILE`. */
export const sseProbe: Probe = createSseProbe();

interface StreamOutcome {
  events: number;
  /** Why the stream failed, if it did. */
  failed?: ProbeFailure;
}

async function runSse(
  config: ProbeConfig,
  ctx: ProbeContext,
  options: HttpProbeOptions,
): Promise<ProbeResult> {
  const started_at = Date.now();
  const clock: RunClock = { t0: performance.now(), phases: {} };
  const within = config.expect.first_event_within;
  const firstEvent = new AbortController();
  const timer = within === undefined ? undefined : setLongTimeout(() => {
    firstEvent.abort(new DOMException("no first event", "TimeoutError"));
  }, within);
  const signal = within === undefined
    ? ctx.signal
    : AbortSignal.any([ctx.signal, firstEvent.signal]);
  const lateFirst = (): ProbeFailure => ({
    code: "latency",
    reason: `no event within first_event_within ${formatDuration(within!)}`,
  });
  let status: number | undefined;
  let events = 0;
  let res: Http1Response | undefined;
  try {
    const url = new URL(config.url!);
    const caCerts = options.caCerts ?? (url.protocol === "https:" ? envCaCerts() : undefined);
    let outcome: StreamOutcome;
    try {
      const request = preparedOnce(config, () => ({
        url,
        method: config.method,
        headers: config.headers,
        body: config.body,
        accept: "text/event-stream",
      }));
      res = await http1Request(request, { caCerts, signal }, clock);
      status = res.status;
      const e = config.expect;
      const bad = checkStatus(e, res.status, { test: (s) => s === 200, text: "200" });
      const type = res.headers.get("content-type") ?? "";
      if (bad || !/^\s*text\/event-stream\b/i.test(type)) {
        const snippet = await firstBytes(res, 300);
        const what = bad ?? {
          code: "body",
          reason: `content-type ${JSON.stringify(type)}, not text/event-stream`,
        };
        const reason = snippet ? `${what.reason}: ${snippet}` : what.reason;
        outcome = { events: 0, failed: { code: what.code, reason } };
      } else {
        outcome = await readEvents(res, () => {
          events++;
          if (events === 1) {
            clock.phases.first_event = since(clock.t0);
            timer?.clear();
          }
        });
      }
    } catch (err) {
      if (!firstEvent.signal.aborted || ctx.signal.aborted) throw err;
      outcome = { events, failed: lateFirst() };
    } finally {
      res?.close();
    }
    const total = since(clock.t0);
    const { cert_expiry, error: certError } = await responseCertExpiry(res, ctx.signal);
    const first = clock.phases.first_event;
    const failed = outcome.failed ??
      (within !== undefined && first !== undefined && first > within
        ? {
          code: "latency" as const,
          reason: `first event after ${first.toFixed(1)}ms, over first_event_within ${
            formatDuration(within)
          }`,
        }
        : undefined) ??
      checkLatency(config.expect, total) ??
      checkCertDays(config.expect, cert_expiry, certError);
    return {
      ok: failed === undefined,
      code: failed?.code ?? "ok",
      reason: failed?.reason,
      phases: { ...clock.phases, total },
      status,
      events,
      cert_expiry,
      started_at,
    };
  } catch (err) {
    let code = errorCode(err, "error");
    let reason = errorMessage(err);
    if (ctx.signal.aborted && res) {
      code = abortCode(ctx.signal);
      const word = abortWord(ctx.signal);
      reason = events === 0
        ? `${word} waiting for the first event`
        : `${word} after ${events} event${events === 1 ? "" : "s"}, before finish_reason "stop"`;
    }
    return {
      ok: false,
      code,
      reason,
      phases: { ...clock.phases, total: since(clock.t0) },
      status,
      events,
      started_at,
    };
  } finally {
    timer?.clear();
  }
}

/** Parse the stream; `onEvent` is called as each event is dispatched. */
async function readEvents(res: Http1Response, onEvent: () => void): Promise<StreamOutcome> {
  const decoder = new TextDecoder();
  let buf = "";
  let data: string[] = [];
  let events = 0;
  for await (const chunk of res.body()) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.charCodeAt(nl - 1) === 13 ? buf.slice(0, nl - 1) : buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (data.length === 0) continue;
        events++;
        onEvent();
        const verdict = judgeEvent(data.join("\n"), events);
        data = [];
        if (verdict === "more") continue;
        return verdict === "done" ? { events } : { events, failed: verdict };
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      if (field !== "data") continue;
      const value = colon < 0 ? "" : line.slice(colon + 1);
      data.push(value.startsWith(" ") ? value.slice(1) : value);
    }
    if (buf.length > MAX_LINE) {
      return {
        events,
        failed: { code: "protocol", reason: `a stream line over ${MAX_LINE} bytes` },
      };
    }
  }
  const n = `${events} event${events === 1 ? "" : "s"}`;
  const reason = `the stream ended after ${n} without finish_reason "stop"`;
  return { events, failed: { code: "stream", reason } };
}

interface PlatformEvent {
  code?: number | string;
  message?: string;
  choices?: { finish_reason?: string | null }[];
}

/** One event's verdict: keep reading, done (the `stop` event), or a failure. */
function judgeEvent(text: string, n: number): "more" | "done" | ProbeFailure {
  if (text === "[DONE]") {
    return { code: "stream", reason: `the stream ended ([DONE]) without finish_reason "stop"` };
  }
  let event: PlatformEvent;
  try {
    event = JSON.parse(text);
  } catch {
    return "more"; // not the platform's JSON: only its finish counts
  }
  if (typeof event !== "object" || event === null) return "more";
  const code = event.code;
  if (code !== undefined && code !== null && Number(code) !== 0) {
    const message = typeof event.message === "string" ? `: ${event.message.slice(0, 200)}` : "";
    return { code: "stream", reason: `error event (event ${n}) code ${code}${message}` };
  }
  const finish = Array.isArray(event.choices) ? event.choices[0]?.finish_reason : undefined;
  if (finish === "stop") return "done";
  if (typeof finish === "string" && finish !== "") {
    return {
      code: "stream",
      reason: `the stream finished with finish_reason ${JSON.stringify(finish)}, not "stop"`,
    };
  }
  return "more";
}

/** Up to `max` bytes of the body as one printable line, for a reason. */
async function firstBytes(res: Http1Response, max: number): Promise<string> {
  let text = "";
  try {
    for await (const chunk of res.body()) {
      text += new TextDecoder().decode(chunk);
      if (text.length >= max) break;
    }
  } catch {
    // what arrived is enough
  }
  text = text.replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
