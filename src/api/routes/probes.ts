/**
 * `GET /api/v1/probes` and `GET /api/v1/probes/{name}`: current state and
 * recent history from memory; with `?since=` (and `until`), the probe's
 * stored runs over that window.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ProbeBoard } from "../../probe/board.ts";
import type { Store } from "../../store/store.ts";
import { parseTime } from "../../query_params.ts";
import type { ApiEnv } from "../env.ts";

function bad(message: string): HTTPException {
  return new HTTPException(400, { message });
}

/** The probe routes. */
export function probeRoutes(deps: { board: ProbeBoard; store?: Store }): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/api/v1/probes", (c) => c.json({ probes: deps.board.list() }));
  app.get("/api/v1/probes/:name", async (c) => {
    const name = c.req.param("name");
    const status = deps.board.status(name);
    if (!status) {
      throw new HTTPException(404, { message: `no probe named ${JSON.stringify(name)}` });
    }
    const limitText = c.req.query("limit") ?? "100";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 4096) {
      throw bad(`limit: ${JSON.stringify(limitText)} is not 1 to 4096`);
    }
    const sinceText = c.req.query("since");
    if (sinceText === undefined) {
      return c.json({ ...status, history: deps.board.history(name, limit) });
    }
    if (!deps.store) throw new HTTPException(503, { message: "no store to read history from" });
    const now = Date.now();
    const since = parseTime(sinceText, now);
    if (since === undefined) {
      throw bad(`since: ${JSON.stringify(sinceText)} is not a time (epoch ms, ISO date, or 24h)`);
    }
    const untilText = c.req.query("until");
    const until = untilText === undefined ? now : parseTime(untilText, now);
    if (until === undefined) {
      throw bad(`until: ${JSON.stringify(untilText)} is not a time (epoch ms, ISO date, or 24h)`);
    }
    const rows = await deps.store.probeHistory(name, since, until, limit);
    const history = rows.map((r) => ({
      at: Number(r.at),
      ok: Number(r.ok) === 1,
      ms: Number(r.duration_ms),
      reason: r.reason || undefined,
    }));
    return c.json({ ...status, history });
  });
  return app;
}
