/**
 * `GET /healthz` (the process serves) and `GET /readyz` (every component ready).
 *
 * @module
 */

import { Hono } from "hono";
import type { ApiEnv } from "../env.ts";

/** One component's readiness; `reason` says what is wrong when not ready. */
export interface Readiness {
  component: string;
  ready: boolean;
  reason?: string;
}

/** The health routes. */
export function healthRoutes(deps: { readiness: () => Readiness[] }): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/readyz", (c) => {
    const components = deps.readiness();
    const notReady = components.filter((r) => !r.ready);
    if (notReady.length === 0) return c.text("ready\n");
    const lines = notReady.map((r) => `${r.component}: ${r.reason ?? "not ready"}`);
    return c.text(`not ready\n${lines.join("\n")}\n`, 503);
  });
  return app;
}
