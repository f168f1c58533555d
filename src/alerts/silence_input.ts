/**
 * A new silence as the API (`POST /api/v1/silences`) and the shell
 * (`astron-watch alerts silence`) take it: matchers (`rule=service-down`,
 * `probe=~"redis.*"`, or Alertmanager's `{ name, value, isRegex, isEqual }`),
 * `duration` (`2h`) or `ends_at`, optional `starts_at`, `author`, `comment`.
 *
 * @module
 */

import { parseDuration } from "../config/units.ts";
import { parseTime } from "../query_params.ts";
import { parseMatcher, type SilenceMatcher } from "./matchers.ts";
import type { Silence } from "./state.ts";

/** Longest silence: a year (an operator who wants longer edits the config). */
const MAX_SILENCE = 366 * 86_400_000;

/** The silence, or the first problem naming its field. */
export function parseSilence(
  input: unknown,
  now: number,
): { ok: true; silence: Silence } | { ok: false; error: string } {
  if (!input || typeof input !== "object" || Array.isArray(input)) {
    return { ok: false, error: "expected a JSON object with matchers and duration or ends_at" };
  }
  const o = input as Record<string, unknown>;
  const known = ["matchers", "duration", "starts_at", "ends_at", "author", "comment"];
  const extra = Object.keys(o).find((k) => !known.includes(k));
  if (extra) return { ok: false, error: `${extra}: unknown field (known: ${known.join(", ")})` };
  if (!Array.isArray(o.matchers) || !o.matchers.length) {
    return { ok: false, error: `matchers: required, a list like ["rule=service-down"]` };
  }
  const matchers: SilenceMatcher[] = [];
  for (const [i, m] of o.matchers.entries()) {
    const parsed = typeof m === "string" ? parseMatcher(m) : objectMatcher(m);
    if (!parsed) {
      return {
        ok: false,
        error: `matchers[${i}]: ${
          JSON.stringify(m)
        } is not a matcher like rule="x" or probe=~"redis.*"`,
      };
    }
    matchers.push(parsed);
  }
  const time = (key: "starts_at" | "ends_at") => {
    const v = o[key];
    if (v === undefined || v === null || v === "") return undefined;
    const t = typeof v === "number" ? v : parseTime(String(v), now);
    return t === undefined || !Number.isFinite(t) ? NaN : t;
  };
  const starts = time("starts_at") ?? now;
  if (Number.isNaN(starts)) {
    return { ok: false, error: `starts_at: ${JSON.stringify(o.starts_at)} is not a time` };
  }
  let ends = time("ends_at");
  if (Number.isNaN(ends)) {
    return { ok: false, error: `ends_at: ${JSON.stringify(o.ends_at)} is not a time` };
  }
  if (o.duration !== undefined) {
    if (ends !== undefined) {
      return { ok: false, error: "duration: give duration or ends_at, not both" };
    }
    const d = typeof o.duration === "string" ? parseDuration(o.duration) : undefined;
    if (d === undefined || d <= 0) {
      return {
        ok: false,
        error: `duration: ${JSON.stringify(o.duration)} is not a duration like 2h`,
      };
    }
    ends = starts + d;
  }
  if (ends === undefined) return { ok: false, error: "duration: required (or ends_at)" };
  if (ends <= starts) return { ok: false, error: "ends_at: not after starts_at" };
  if (ends - starts > MAX_SILENCE) return { ok: false, error: "duration: longer than a year" };
  if (ends <= now) return { ok: false, error: "ends_at: in the past" };
  const str = (key: "author" | "comment", max: number) =>
    typeof o[key] === "string" ? (o[key] as string).slice(0, max) : "";
  return {
    ok: true,
    silence: {
      id: crypto.randomUUID(),
      matchers,
      starts_at: starts,
      ends_at: ends,
      author: str("author", 200) || "unknown",
      comment: str("comment", 2000),
      created_at: now,
      origin: "api",
    },
  };
}

function objectMatcher(m: unknown): SilenceMatcher | undefined {
  if (!m || typeof m !== "object") return undefined;
  const o = m as Record<string, unknown>;
  if (typeof o.name !== "string" || typeof o.value !== "string") return undefined;
  const isRegex = o.isRegex === true;
  const isEqual = o.isEqual !== false;
  const op = isEqual ? (isRegex ? "=~" : "=") : (isRegex ? "!~" : "!=");
  return parseMatcher(`${o.name}${op}${JSON.stringify(o.value)}`);
}
