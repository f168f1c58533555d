/**
 * `GET /api/v1/probes` and `GET /api/v1/probes/{name}`: current state and
 * recent history, from memory.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ProbeBoard } from "../../probe/board.ts";
import type { ApiEnv } from "../env.ts";

/** The probe routes. */
export function probeRoutes(deps: { board: ProbeBoard }): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/api/v1/probes", (c) => c.json({ probes: deps.board.list() }));
  app.get("/api/v1/probes/:name", (c) => {
    const name = c.req.param("name");
    const status = deps.board.status(name);
    if (!status) {
      throw new HTTPException(404, { message: `no probe named ${JSON.stringify(name)}` });
    }
    const limitText = c.req.query("limit") ?? "100";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 4096) {
      throw new HTTPException(400, {
        message: `limit: ${JSON.stringify(limitText)} is not 1 to 4096`,
      });
    }
    return c.json({ ...status, history: deps.board.history(name, limit) });
  });
  return app;
}
