/**
 * The live access logs' counts, read back: `GET /api/v1/access` and the
 * alert rules' `access_log` source read these per-minute rows.
 *
 * @module
 */

import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { ErrorBurst } from "./report_schema.ts";
import { errorBursts } from "./aggregate.ts";

/** Requests over a window, broken down. */
export interface AccessSummary {
  since: string;
  until: string;
  requests: number;
  bytes: number;
  status_classes: Record<string, number>;
  statuses: { status: number; requests: number }[];
  methods: { method: string; requests: number }[];
  routes: {
    route: string;
    requests: number;
    bytes: number;
    errors_4xx: number;
    errors_5xx: number;
    /** Mean `$request_time` in ms, when the format logs it. */
    request_time_mean_ms: number | null;
  }[];
  logs: { log: string; requests: number; bytes: number }[];
  /** Per `step` ms, oldest first. */
  series: { at: string; requests: number; bytes: number; errors_5xx: number }[];
  step_ms: number;
  /** The minutes where 5xx answers spiked (see `errorBursts`). */
  bursts: ErrorBurst[];
}

/** Rows of the window, summed per log, route, method, status (and minute for the series). */
export async function accessSummary(
  db: Kysely<Database>,
  window: { since: number; until: number; log?: string },
): Promise<AccessSummary> {
  let q = db.selectFrom("access_minutes")
    .select((eb) => [
      "source",
      "minute",
      "route",
      "method",
      "status",
      eb.fn.sum<number>("requests").as("requests"),
      eb.fn.sum<number>("bytes").as("bytes"),
      eb.fn.sum<number>("time_sum").as("time_sum"),
      eb.fn.sum<number>("time_count").as("time_count"),
    ])
    .where("minute", ">=", Math.floor(window.since / 60_000) * 60_000)
    .where("minute", "<", window.until)
    .groupBy(["source", "minute", "route", "method", "status"]);
  if (window.log) q = q.where("source", "=", `access:${window.log}`);
  const rows = await q.execute();
  const span = window.until - window.since;
  const step = span <= 2 * 3_600_000 ? 60_000 : span <= 2 * 86_400_000 ? 3_600_000 : 86_400_000;
  const classes: Record<string, number> = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  const statuses = new Map<number, number>();
  const methods = new Map<string, number>();
  const routes = new Map<string, AccessSummary["routes"][number] & { ts: number; tc: number }>();
  const logs = new Map<string, { requests: number; bytes: number }>();
  const series = new Map<number, { requests: number; bytes: number; errors_5xx: number }>();
  /** minute -> [requests, 5xx], for the bursts. */
  const minutes = new Map<number, [number, number]>();
  let requests = 0, bytes = 0;
  for (const r of rows) {
    const n = Number(r.requests), b = Number(r.bytes), status = Number(r.status);
    requests += n;
    bytes += b;
    const cls = `${Math.floor(status / 100)}xx`;
    if (cls in classes) classes[cls] += n;
    statuses.set(status, (statuses.get(status) ?? 0) + n);
    methods.set(r.method, (methods.get(r.method) ?? 0) + n);
    let route = routes.get(r.route);
    if (!route) {
      routes.set(
        r.route,
        route = {
          route: r.route,
          requests: 0,
          bytes: 0,
          errors_4xx: 0,
          errors_5xx: 0,
          request_time_mean_ms: null,
          ts: 0,
          tc: 0,
        },
      );
    }
    route.requests += n;
    route.bytes += b;
    if (status >= 500) route.errors_5xx += n;
    else if (status >= 400) route.errors_4xx += n;
    route.ts += Number(r.time_sum);
    route.tc += Number(r.time_count);
    const log = r.source.replace(/^access:/, "");
    const l = logs.get(log) ?? logs.set(log, { requests: 0, bytes: 0 }).get(log)!;
    l.requests += n;
    l.bytes += b;
    const at = Math.floor(Number(r.minute) / step) * step;
    const s = series.get(at) ?? series.set(at, { requests: 0, bytes: 0, errors_5xx: 0 }).get(at)!;
    s.requests += n;
    s.bytes += b;
    if (status >= 500) s.errors_5xx += n;
    const m = minutes.get(Number(r.minute)) ??
      minutes.set(Number(r.minute), [0, 0]).get(Number(r.minute))!;
    m[0] += n;
    if (status >= 500) m[1] += n;
  }
  const byCount = <T extends { requests: number }>(a: T, b: T) => b.requests - a.requests;
  return {
    since: new Date(window.since).toISOString(),
    until: new Date(window.until).toISOString(),
    requests,
    bytes,
    status_classes: classes,
    statuses: [...statuses].map(([status, n]) => ({ status, requests: n })).sort((a, b) =>
      a.status - b.status
    ),
    methods: [...methods].map(([method, n]) => ({ method, requests: n })).sort(byCount),
    routes: [...routes.values()].map(({ ts, tc, ...r }) => ({
      ...r,
      request_time_mean_ms: tc ? Math.round((ts / tc) * 1e6) / 1e3 : null,
    })).sort(byCount),
    logs: [...logs].map(([log, v]) => ({ log, ...v })).sort(byCount),
    series: [...series].sort((a, b) => a[0] - b[0]).map(([at, v]) => ({
      at: new Date(at).toISOString(),
      ...v,
    })),
    step_ms: step,
    bursts: errorBursts([...minutes].map(([minute, [n, e5]]) => [minute, n, e5])),
  };
}

/** Requests and 5xx per log and route over the window (the alert rules' `access_log` source). */
export async function routeErrors(
  db: Kysely<Database>,
  since: number,
): Promise<{ log: string; route: string; requests: number; errors: number }[]> {
  const rows = await db.selectFrom("access_minutes")
    .select((eb) => [
      "source",
      "route",
      eb.fn.sum<number>("requests").as("requests"),
      eb.fn.sum<number>(eb.case().when("status", ">=", 500).then(eb.ref("requests")).else(0).end())
        .as("errors"),
    ])
    .where("minute", ">=", Math.floor(since / 60_000) * 60_000)
    .groupBy(["source", "route"]).execute();
  return rows.map((r) => ({
    log: r.source.replace(/^access:/, ""),
    route: r.route,
    requests: Number(r.requests),
    errors: Number(r.errors),
  }));
}
