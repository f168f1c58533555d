/**
 * The `expect` checks several probe types share: status set, latency,
 * certificate days left. Each returns the failure (its code and one-line
 * reason), or `undefined`.
 *
 * @module
 */

import type { ProbeExpect } from "../config/schema.ts";
import { daysLeft } from "./tls.ts";
import { type ProbeFailure, type ProbeResult, since } from "./types.ts";
import type { RunClock } from "./conn.ts";

/** `expect.status` when set, else `fallback` (a test of the default range). */
export function checkStatus(
  expect: ProbeExpect,
  status: number,
  fallback: { test: (s: number) => boolean; text: string },
): ProbeFailure | undefined {
  const set = expect.status ?? [];
  const ok = set.length ? set.includes(status) : fallback.test(status);
  if (ok) return undefined;
  const reason = `status ${status}, expected ${set.length ? set.join(" or ") : fallback.text}`;
  return { code: "status", reason };
}

/** `expect.max_latency` against the run's total, in ms. */
export function checkLatency(expect: ProbeExpect, totalMs: number): ProbeFailure | undefined {
  if (expect.max_latency === undefined || totalMs <= expect.max_latency) return undefined;
  const reason = `took ${totalMs.toFixed(1)}ms, over max_latency ${expect.max_latency}ms`;
  return { code: "latency", reason };
}

/**
 * The result of a run that got its answer: up, unless its total passed
 * `expect.max_latency`.
 */
export function answered(expect: ProbeExpect, clock: RunClock, started_at: number): ProbeResult {
  const total = since(clock.t0);
  const failed = checkLatency(expect, total);
  return {
    ok: failed === undefined,
    code: failed?.code ?? "ok",
    reason: failed?.reason,
    phases: { ...clock.phases, total },
    started_at,
  };
}

/**
 * `expect.cert_days_left` against the earliest expiry (epoch seconds), or the
 * reason the certificate could not be read.
 */
export function checkCertDays(
  expect: ProbeExpect,
  expiry: number | undefined,
  readError: string | undefined,
  nowMs = Date.now(),
): ProbeFailure | undefined {
  if (expect.cert_days_left === undefined) return undefined;
  if (expiry === undefined) {
    return {
      code: "cert_expiry",
      reason: readError ?? "no certificate to check cert_days_left against",
    };
  }
  const left = daysLeft(expiry, nowMs);
  if (left >= expect.cert_days_left) return undefined;
  const when = new Date(expiry * 1000).toISOString().slice(0, 10);
  return {
    code: "cert_expiry",
    reason: `certificate expires in ${
      left.toFixed(1)
    } days (${when}), under cert_days_left ${expect.cert_days_left}`,
  };
}

/** The value at a field path like `data.items[0].status`, or `undefined`. */
export function fieldAt(value: unknown, path: string): unknown {
  let cur = value;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** `expect.json`: each field of the JSON body equals its value. */
export function checkJson(expect: ProbeExpect, body: string): ProbeFailure | undefined {
  if (!expect.json) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { code: "body", reason: "body is not JSON" };
  }
  for (const [path, want] of Object.entries(expect.json)) {
    const got = fieldAt(doc, path);
    if (got !== want) {
      const reason = `json ${path} is ${JSON.stringify(got) ?? "missing"}, expected ${
        JSON.stringify(want)
      }`;
      return { code: "body", reason };
    }
  }
  return undefined;
}
