/**
 * The `expect` checks several probe types share: status set, latency,
 * certificate days left. Each returns the one-line reason, or `undefined`.
 *
 * @module
 */

import type { ProbeExpect } from "../config/schema.ts";
import { daysLeft } from "./tls.ts";

/** `expect.status` when set, else `fallback` (a test of the default range). */
export function checkStatus(
  expect: ProbeExpect,
  status: number,
  fallback: { test: (s: number) => boolean; text: string },
): string | undefined {
  const set = expect.status ?? [];
  const ok = set.length ? set.includes(status) : fallback.test(status);
  if (ok) return undefined;
  return `status ${status}, expected ${set.length ? set.join(" or ") : fallback.text}`;
}

/** `expect.max_latency` against the run's total, in ms. */
export function checkLatency(expect: ProbeExpect, totalMs: number): string | undefined {
  if (expect.max_latency === undefined || totalMs <= expect.max_latency) return undefined;
  return `took ${totalMs.toFixed(1)}ms, over max_latency ${expect.max_latency}ms`;
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
): string | undefined {
  if (expect.cert_days_left === undefined) return undefined;
  if (expiry === undefined) return readError ?? "no certificate to check cert_days_left against";
  const left = daysLeft(expiry, nowMs);
  if (left >= expect.cert_days_left) return undefined;
  const when = new Date(expiry * 1000).toISOString().slice(0, 10);
  return `certificate expires in ${
    left.toFixed(1)
  } days (${when}), under cert_days_left ${expect.cert_days_left}`;
}
