/**
 * Alerts on the API: `GET /api/v1/alerts` (pending and firing, with values
 * and since), `GET /api/v1/alerts/history?since=&limit=`, `GET
 * /api/v1/silences`, `POST /api/v1/silences` (write token) and `DELETE
 * /api/v1/silences/{id}`.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { loadedPart } from "../optional_part.ts";
import type { ApiEnv } from "../env.ts";
import type { AlertEngine } from "../../alerts/engine.ts";
import { parseSilence } from "../../alerts/silence_input.ts";
import { formatMatcher } from "../../alerts/matchers.ts";
import type { Silence } from "../../alerts/state.ts";
import { checkParams, ParamError, show, timeParam, withParams } from "../../query_params.ts";

/** What the alert routes read: the engine, when `alerts:` has rules. */
export interface AlertRoutesDeps {
  alerts: () => AlertEngine | undefined;
  /** Whether `alerts:` asks for the engine (it may still be starting). */
  configured?: () => boolean;
  now?: () => number;
}

const iso = (t: number | undefined) => t === undefined ? null : new Date(t).toISOString();

/** A silence as the API shows it. */
export function silenceView(s: Silence) {
  return {
    id: s.id,
    matchers: s.matchers.map(formatMatcher),
    starts_at: iso(s.starts_at),
    ends_at: iso(s.ends_at),
    author: s.author,
    comment: s.comment,
    origin: s.origin,
  };
}

/** The alert routes. */
export function alertRoutes(deps: AlertRoutesDeps): Hono<ApiEnv> {
  const now = deps.now ?? Date.now;
  const app = new Hono<ApiEnv>();
  const engine = () =>
    loadedPart(
      deps.alerts(),
      deps.configured,
      {
        starting: "the alert engine is starting; try again",
        missing: "no alerts are configured (alerts.rules)",
      },
    );

  app.get("/api/v1/alerts", (c) => {
    const q = c.req.query();
    const parsed = withParams(() => checkParams(q, ["rule", "state"]));
    if (!parsed.ok) throw new HTTPException(400, { message: parsed.error });
    if (q.state && q.state !== "firing" && q.state !== "pending") {
      throw new HTTPException(400, { message: `state: ${show(q.state)} is not firing or pending` });
    }
    const e = deps.alerts();
    const alerts = (e?.alerts() ?? []).filter((a) =>
      (!q.rule || a.rule === q.rule) && (!q.state || a.state === q.state)
    );
    const s = e?.stats();
    return c.json({
      rules: s?.rules ?? 0,
      evaluated_at: iso(s?.last_evaluation?.at),
      alerts: alerts.map((a) => ({
        rule: a.rule,
        state: a.state,
        severity: a.severity,
        labels: a.labels,
        value: a.value,
        value_text: a.text,
        details: a.details ?? null,
        active_since: iso(a.active_since),
        firing_since: iso(a.firing_since),
        last_sent: iso(a.last_sent),
        silenced: a.silenced,
      })),
    });
  });

  app.get("/api/v1/alerts/history", async (c) => {
    const q = c.req.query();
    const parsed = withParams(() => {
      checkParams(q, ["since", "limit"]);
      const since = timeParam(q.since, "since", now()) ?? now() - 86_400_000;
      const limit = q.limit === undefined ? 500 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new ParamError(`limit: ${show(q.limit ?? "")} is not a whole number from 1 to 10000`);
      }
      return { since, limit };
    });
    if (!parsed.ok) throw new HTTPException(400, { message: parsed.error });
    const events = await engine().history(parsed.value.since, parsed.value.limit);
    return c.json({
      since: iso(parsed.value.since),
      events: events.map((e) => ({ ...e, at: iso(e.at), firing_since: iso(e.firing_since) })),
    });
  });

  app.get("/api/v1/silences", (c) => {
    return c.json({ silences: (deps.alerts()?.silences() ?? []).map(silenceView) });
  });

  app.post("/api/v1/silences", async (c) => {
    const e = engine();
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new HTTPException(400, { message: "the body is not JSON" });
    }
    const parsed = parseSilence(body, now());
    if (!parsed.ok) throw new HTTPException(400, { message: parsed.error });
    await e.addSilence(parsed.silence);
    return c.json(silenceView(parsed.silence), 201);
  });

  app.delete("/api/v1/silences/:id", async (c) => {
    const id = c.req.param("id");
    if (id.startsWith("config-")) {
      throw new HTTPException(400, {
        message: `${show(id)} is in the config (alerts.silences): edit it there`,
      });
    }
    if (!await engine().endSilence(id)) {
      throw new HTTPException(404, { message: `no silence ${show(id)} in force` });
    }
    return c.json({ id, ended: true });
  });

  return app;
}
