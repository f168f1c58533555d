/**
 * The platform's services as the metrics they send tell it: `GET
 * /api/v1/services?window=5m` (requests per minute, error ratio, latency
 * quantiles, in total and per `func`) and `GET
 * /api/v1/metrics/query?name=&by=&since=&until=&step=&q=&service=` (one
 * metric as time series).
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../env.ts";
import { type MetricsReader, RollupQueryError } from "../../rollups/read.ts";
import { parseMetricQuery, parseServicesQuery } from "../../rollups/params.ts";
import { StoreUnavailableError } from "../../store/store.ts";

/** What the service routes read. */
export interface ServiceRoutesDeps {
  metrics: MetricsReader;
  /** The clock (epoch ms; default the reader's own, else the system's). */
  now?: () => number;
}

/** Read errors as answers: a query that cannot be answered is 400, a database away 503. */
function answer(err: unknown): never {
  if (err instanceof RollupQueryError) throw new HTTPException(400, { message: err.message });
  if (err instanceof StoreUnavailableError) {
    throw new HTTPException(503, {
      message: `the metric rollups are not available: ${err.message}`,
      res: new Response(null, { headers: { "Retry-After": "5" } }),
    });
  }
  throw err;
}

/** The service routes. */
export function serviceRoutes(deps: ServiceRoutesDeps): Hono<ApiEnv> {
  const now = deps.now ?? (() => deps.metrics.now?.() ?? Date.now());
  const app = new Hono<ApiEnv>();

  app.get("/api/v1/services", async (c) => {
    const parsed = parseServicesQuery(c.req.query(), now());
    if (!parsed.ok) throw new HTTPException(400, { message: parsed.error });
    return c.json(await deps.metrics.services(parsed.value).catch(answer));
  });

  app.get("/api/v1/metrics/query", async (c) => {
    const parsed = parseMetricQuery(c.req.query(), now());
    if (!parsed.ok) throw new HTTPException(400, { message: parsed.error });
    return c.json(await deps.metrics.query(parsed.value).catch(answer));
  });

  return app;
}
