/**
 * Reading the query parameters of the read routes (and the shell flags
 * built on them): unknown parameters are mistakes, times and durations are
 * the config's, and every refusal names its parameter and value.
 *
 * @module
 */

import { parseDuration } from "./config/units.ts";

/** A parse outcome: the query, or the first problem naming its parameter. */
export type FilterResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** A parameter refused; its message names it. */
export class ParamError extends Error {
  override name = "ParamError";
}

/** A value quoted for a message, cut at 60 characters. */
export const show = (v: string): string =>
  JSON.stringify(v.length > 60 ? v.slice(0, 60) + "..." : v);

/** Run a parser; a {@linkcode ParamError} becomes `{ ok: false, error }`. */
export function withParams<T>(fn: () => T): FilterResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof ParamError) return { ok: false, error: err.message };
    throw err;
  }
}

/** @throws {ParamError} naming the first parameter not in `known`. */
export function checkParams(
  params: Record<string, string | undefined>,
  known: readonly string[],
): void {
  for (const k of Object.keys(params)) {
    if (!known.includes(k)) {
      throw new ParamError(`unknown parameter ${show(k)} (known: ${known.join(", ")})`);
    }
  }
}

/**
 * A point in time: epoch milliseconds (`1767225600000`), an ISO 8601 date or
 * date-time (`2026-01-01`, `2026-01-01T08:00:00+08:00`), or a duration back
 * from `now` (`24h`, `7d`).
 *
 * @returns epoch ms, or `undefined` when `text` is none of these.
 * @example
 * ```ts
 * import { parseTime } from "./query_params.ts";
 * parseTime("24h", Date.now()); // a day ago
 * ```
 */
export function parseTime(text: string, now: number): number | undefined {
  const s = text.trim();
  if (/^\d{1,15}$/.test(s)) return Number(s);
  const back = /^\d/.test(s) ? parseDuration(s) : undefined;
  if (back !== undefined && /[a-z]$/i.test(s)) return now - back;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) {
    const t = Date.parse(s.replace(" ", "T"));
    if (Number.isFinite(t)) return t;
  }
  return undefined;
}

/** The time in parameter `key` (absent or empty: `undefined`). @throws {ParamError} */
export function timeParam(text: string | undefined, key: string, now: number): number | undefined {
  if (text === undefined || text === "") return undefined;
  const t = parseTime(text, now);
  if (t === undefined) {
    throw new ParamError(
      `${key}: ${
        show(text)
      } is not a time (epoch ms, 2026-01-31, 2026-01-31T08:00:00Z, or 24h ago as "24h")`,
    );
  }
  return t;
}
