/**
 * Query filters from text (URL query parameters or CLI flags), checked once
 * at the edge: each mistake names the parameter and the value.
 *
 * @module
 */

import {
  checkParams,
  type FilterResult,
  ParamError,
  show,
  timeParam,
  withParams,
} from "../query_params.ts";
import { decodeCursor, type ListQuery, type UsageGroupBy, type UsageQuery } from "./query.ts";

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

function text(
  params: Record<string, string | undefined>,
  key: string,
  max: number,
): string | undefined {
  const v = params[key];
  if (v === undefined) return undefined;
  if (v.length > max) throw new ParamError(`${key}: longer than ${max} characters`);
  return v;
}

/** A run-list query from parameters (see {@linkcode LIST_PARAMS}); unknown ones are mistakes. */
export function parseListQuery(
  params: Record<string, string | undefined>,
  now: number,
): FilterResult<ListQuery> {
  return withParams(() => {
    checkParams(params, LIST_PARAMS);
    const limitText = params.limit ?? "50";
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) {
      throw new ParamError(`limit: ${show(limitText)} is not a whole number from 1 to 500`);
    }
    const status = params.status;
    if (status !== undefined && status !== "error" && status !== "ok") {
      throw new ParamError(`status: ${show(status)} is not "error" or "ok"`);
    }
    let cursor;
    if (params.cursor !== undefined && params.cursor !== "") {
      cursor = decodeCursor(params.cursor);
      if (!cursor) {
        throw new ParamError(`cursor: ${show(params.cursor)} is not a cursor from a previous page`);
      }
    }
    const since = timeParam(params.since, "since", now);
    const until = timeParam(params.until, "until", now);
    if (since !== undefined && until !== undefined && since > until) {
      throw new ParamError("since: after until");
    }
    const logLevel = params.log_level?.toLowerCase();
    if (logLevel !== undefined && logLevel !== "error") {
      throw new ParamError(`log_level: ${show(params.log_level!)} is not "error"`);
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
  return withParams(() => {
    checkParams(params, USAGE_PARAMS);
    const by = (params.by ?? "app_id") as UsageGroupBy;
    if (by !== "app_id" && by !== "node_type") {
      throw new ParamError(`by: ${show(params.by!)} is not "app_id" or "node_type"`);
    }
    const until = timeParam(params.until, "until", now) ?? now;
    const since = timeParam(params.since, "since", now) ?? until - 86_400_000;
    if (since > until) throw new ParamError("since: after until");
    return { by, since, until };
  });
}
