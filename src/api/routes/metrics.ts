/**
 * `GET /metrics`: the Prometheus text exposition.
 *
 * @module
 */

import { Hono } from "hono";
import { PROMETHEUS_CONTENT_TYPE } from "../../metrics/prometheus.ts";
import type { ApiEnv } from "../env.ts";

/** The metrics route. */
export function metricsRoutes(deps: { scrape: () => Promise<string> }): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/metrics", async (c) => {
    const body = await deps.scrape();
    return c.body(body, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });
  return app;
}
