/**
 * `GET /api/v1/access?since=&until=&log=`: the live access logs' requests
 * over a window (default the last hour), per route, method, status and log,
 * with a time series and each log's files and counters; and, over the hours
 * the window touches, the top paths, 404 paths, clients, user agents and
 * referers, unique visitors and suspicious requests by reason; the minutes
 * where 5xx answers spiked.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { loadedPart } from "../optional_part.ts";
import type { ApiEnv } from "../env.ts";
import type { AccessLogs } from "../../access/live.ts";
import type { Store } from "../../store/store.ts";
import { checkParams, ParamError, show, timeParam, withParams } from "../../query_params.ts";

/** What the access route reads: the live access logs (when `access_logs:` has entries) and the store. */
export interface AccessRoutesDeps {
  access: () => AccessLogs | undefined;
  /** Whether `access_logs:` has entries (the live logs may still be starting). */
  configured?: () => boolean;
  store: Store;
  now?: () => number;
}

/** Entries in each top list of the answer. */
const TOP_N = 20;

/** The access route. */
export function accessRoutes(deps: AccessRoutesDeps): Hono<ApiEnv> {
  const now = deps.now ?? Date.now;
  const app = new Hono<ApiEnv>();
  app.get("/api/v1/access", async (c) => {
    const access = loadedPart(
      deps.access(),
      deps.configured,
      {
        starting: "the access logs are starting; try again",
        missing: "no access logs are configured (access_logs)",
      },
    );
    const q = c.req.query();
    const t = now();
    const parsed = withParams(() => {
      checkParams(q, ["since", "until", "log"]);
      const until = timeParam(q.until, "until", t) ?? t;
      const since = timeParam(q.since, "since", t) ?? until - 3_600_000;
      if (since >= until) throw new ParamError(`since: must be before until`);
      const logs = access.stats().map((s) => s.name);
      if (q.log !== undefined && !logs.includes(q.log)) {
        throw new ParamError(`log: ${show(q.log)} is not an access log (${logs.join(", ")})`);
      }
      return { since, until, log: q.log };
    });
    if (!parsed.ok) throw new HTTPException(400, { message: parsed.error });
    const { accessSummary } = await import("../../access/query.ts");
    const { since, until, log } = parsed.value;
    const [summary, hours] = await Promise.all([
      accessSummary(deps.store.backend.db, parsed.value),
      access.summary(since, until, log),
    ]);
    return c.json({
      ...summary,
      // Kept per hour: over the hours the window touches.
      hours: {
        since: new Date(Math.floor(since / 3_600_000) * 3_600_000).toISOString(),
        until: new Date(Math.ceil(until / 3_600_000) * 3_600_000).toISOString(),
      },
      unique_visitors: hours.uniqueVisitors(),
      top: hours.tops(TOP_N),
      suspicious: hours.flagged(),
      access_logs: access.stats(),
    });
  });
  return app;
}
