/**
 * The `http` probe: one request with `fetch`, checked against `expect`.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { ProbeConfig } from "../config/schema.ts";
import { type ProbeContext, type ProbeResult, since } from "./types.ts";

const MAX_BODY = 1024 * 1024;

/** Probe an HTTP(S) URL: status, body and latency expectations; phases `first_byte` and `total`. */
export async function httpProbe(config: ProbeConfig, ctx: ProbeContext): Promise<ProbeResult> {
  const started_at = Date.now();
  const t0 = performance.now();
  let firstByte: number | undefined;
  try {
    const res = await fetch(config.url!, {
      method: config.method,
      headers: config.headers,
      body: config.body,
      redirect: "manual",
      signal: ctx.signal,
    });
    firstByte = since(t0);
    const body = await readCapped(res, MAX_BODY);
    const phases = { first_byte: firstByte, total: since(t0) };
    const reason = checkExpect(config, res.status, body, phases.total);
    return { ok: reason === undefined, reason, phases, status: res.status, started_at };
  } catch (err) {
    return { ok: false, reason: errorMessage(err), phases: { total: since(t0) }, started_at };
  }
}

async function readCapped(res: Response, cap: number): Promise<string> {
  if (!res.body) return "";
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true });
    if (text.length >= cap) {
      await res.body.cancel().catch(() => {});
      break;
    }
  }
  return text;
}

function checkExpect(
  config: ProbeConfig,
  status: number,
  body: string,
  totalMs: number,
): string | undefined {
  const e = config.expect;
  const okStatus = e.status ?? [];
  if (okStatus.length ? !okStatus.includes(status) : status < 200 || status > 399) {
    return `status ${status}, expected ${okStatus.length ? okStatus.join(" or ") : "2xx/3xx"}`;
  }
  if (e.body_contains !== undefined && !body.includes(e.body_contains)) {
    return `body does not contain ${JSON.stringify(e.body_contains)}`;
  }
  if (e.body_regex && !e.body_regex.test(body)) {
    return `body does not match /${e.body_regex.source}/`;
  }
  if (e.max_latency !== undefined && totalMs > e.max_latency) {
    return `took ${totalMs.toFixed(1)}ms, over max_latency ${e.max_latency}ms`;
  }
  return undefined;
}
