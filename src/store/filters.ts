/**
 * Query filters from text (URL query parameters or CLI flags), checked once
 * at the edge: each mistake names the parameter and the value.
 *
 * @module
 */

import { parseDuration } from "../config/units.ts";
import { decodeCursor, type ListQuery, type UsageGroupBy, type UsageQuery } from "./query.ts";

/** A parse outcome: the query, or the first problem naming its parameter. */
export type FilterResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parameters {@linkcode parseListQuery} takes. */
export const LIST_PARAMS = [
  "app_id",
  "uid",
  "chat_id",
  "status",
  "since",
  "until",
  "q",
  "log_level",
  "limit",
  "cursor",
] as const;
/** Parameters {@linkcode parseUsageQuery} takes. */
export const USAGE_PARAMS = ["by", "since", "until"] as const;

class Bad extends Error {}

const show = (v: string) => JSON.stringify(v.length > 60 ? v.slice(0, 60) + "..." : v);

/**
 * A point in time: epoch milliseconds (`1767225600000`), an ISO 8601 date or
 * date-time (`2026-01-01`, `2026-01-01T08:00:00+08:00`), or a duration back
 * from `now` (`24h`, `7d`).
 *
 * @returns epoch ms, or `undefined` when `text` is none of these.
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

function check(params: Record<string, string | undefined>, known: readonly string[]): void {
  for (const k of Object.keys(params)) {
    if (!known.includes(k)) {
      throw new Bad(`unknown parameter ${show(k)} (known: ${known.join(", ")})`);
    }
  }
}

function text(
  params: Record<string, string | undefined>,
  key: string,
  max: number,
): string | undefined {
  const v = params[key];
  if (v === undefined) return undefined;
  if (v.length > max) throw new Bad(`${key}: longer than ${max} characters`);
  return v;
}

function time(
  params: Record<string, string | undefined>,
  key: string,
  now: number,
): number | undefined {
  const v = params[key];
  if (v === undefined || v === "") return undefined;
  const t = parseTime(v, now);
  if (t === undefined) {
    throw new Bad(
      `${key}: ${
        show(v)
      } is not a time (epoch ms, 2026-01-31, 2026-01-31T08:00:00Z, or 24h ago as "24h")`,
    );
  }
  return t;
}

function wrap<T>(fn: () => T): FilterResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, error: err.message };
    throw err;
  }
}

/** A run-list query from parameters (see {@linkcode LIST_PARAMS}); unknown ones are mistakes. */
export function parseListQuery(
  params: Record<string, string | undefined>,
  now: number,
): FilterResult<ListQuery> {
  return wrap(() => {
    check(params, LIST_PARAMS);
    const limitText = params.limit ?? "50";
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) {
      throw new Bad(`limit: ${show(limitText)} is not a whole number from 1 to 500`);
    }
    const status = params.status;
    if (status !== undefined && status !== "error" && status !== "ok") {
      throw new Bad(`status: ${show(status)} is not "error" or "ok"`);
    }
    let cursor;
    if (params.cursor !== undefined && params.cursor !== "") {
      cursor = decodeCursor(params.cursor);
      if (!cursor) {
        throw new Bad(`cursor: ${show(params.cursor)} is not a cursor from a previous page`);
      }
    }
    const since = time(params, "since", now);
    const until = time(params, "until", now);
    if (since !== undefined && until !== undefined && since > until) {
      throw new Bad("since: after until");
    }
    const logLevel = params.log_level?.toLowerCase();
    if (logLevel !== undefined && logLevel !== "error") {
      throw new Bad(`log_level: ${show(params.log_level!)} is not "error"`);
    }
    return {
      app_id: text(params, "app_id", 256),
      uid: text(params, "uid", 256),
      chat_id: text(params, "chat_id", 256),
      status,
      since,
      until,
      q: text(params, "q", 200) || undefined,
      log_level: logLevel as "error" | undefined,
      limit,
      cursor,
    };
  });
}

/** A usage-stats query: `by` app_id (default) or node_type, over `since`..`until` (default the last 24 h). */
export function parseUsageQuery(
  params: Record<string, string | undefined>,
  now: number,
): FilterResult<UsageQuery> {
  return wrap(() => {
    check(params, USAGE_PARAMS);
    const by = (params.by ?? "app_id") as UsageGroupBy;
    if (by !== "app_id" && by !== "node_type") {
      throw new Bad(`by: ${show(params.by!)} is not "app_id" or "node_type"`);
    }
    const until = time(params, "until", now) ?? now;
    const since = time(params, "since", now) ?? until - 86_400_000;
    if (since > until) throw new Bad("since: after until");
    return { by, since, until };
  });
}
