/**
 * The console (`GET /` and the pages under it): server-rendered HTML read
 * from the same store queries as the API. Every answer forbids requests to
 * any other origin (Content-Security-Policy); pages need read access (the
 * API's rule or a session cookie), silence changes need a write session and
 * a CSRF token. The app loads this module on the first console request.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { compress } from "hono/compress";
import type { ApiEnv } from "../api/env.ts";
import { pickLang, words } from "./i18n.ts";
import { ASSETS } from "./assets.ts";
import { ErrorPage, NotFoundPage, type PageContext } from "./layout.tsx";
import {
  csrfOk,
  csrfToken,
  roleOf,
  sameOrigin,
  SESSION_COOKIE,
  SESSION_MS,
  signSession,
  type Tokens,
  type Visitor,
  visitor,
} from "./session.ts";
import { type ConsoleDeps, OverviewReader, probeSamples } from "./page_data.ts";
import { OverviewPage } from "./pages/overview.tsx";
import { PROBE_WINDOWS, ProbePage } from "./pages/probe.tsx";
import { TRACE_FILTERS, TracesPage } from "./pages/traces.tsx";
import { FIELDS, RUN_PAGE_NODES, RunPage } from "./pages/run.tsx";
import { USAGE_WINDOWS, UsagePage } from "./pages/usage.tsx";
import { AlertsPage } from "./pages/alerts.tsx";
import { SignInPage } from "./pages/signin.tsx";
import { parseListQuery } from "../store/filters.ts";
import { SID_PATTERN } from "../workflow/record.ts";
import { isBlobHash } from "../store/blobs.ts";
import { serviceLogLines } from "../service_logs/by_sid.ts";
import { parseSilence } from "../alerts/silence_input.ts";
import { StoreFullError, StoreUnavailableError } from "../store/store.ts";
import { errorMessage } from "../errors.ts";

export type { ConsoleDeps };

/** The Content-Security-Policy of every console answer: this origin only, no inline script. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; " +
  "frame-ancestors 'none'";

/** Paths open to anyone: the sign-in form and the static files. */
const OPEN = /^\/(signin|assets\/[^/]+)$/;

type Ctx = Context<ApiEnv & { Variables: { visitor: Visitor; page: PageContext } }>;

/** The console's routes. */
export function consoleRoutes(deps: ConsoleDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv & { Variables: { visitor: Visitor; page: PageContext } }>();
  const tokens = (): Tokens => ({
    read: deps.server().read_token,
    write: deps.server().write_token,
  });
  /** Sessions signed out before they expired: nonce -> expiry. */
  const ended = new Map<string, number>();
  const overview = new OverviewReader(deps);

  app.use(compress());
  app.use(async (c, next) => {
    c.header("Content-Security-Policy", CONSOLE_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    c.header("X-Frame-Options", "DENY");
    const now = Date.now();
    for (const [nonce, exp] of ended) if (exp <= now) ended.delete(nonce);
    const who = visitor({
      authorization: c.req.header("Authorization"),
      cookie: getCookie(c, SESSION_COOKIE),
      remoteAddr: c.env?.remoteAddr,
      tokens: tokens(),
      now,
      ended,
    });
    const langQuery = c.req.query("lang");
    const lang = pickLang(langQuery, getCookie(c, "aw_lang"), c.req.header("Accept-Language"));
    if (langQuery === lang) {
      setCookie(c, "aw_lang", lang, {
        path: "/",
        sameSite: "Strict",
        maxAge: 365 * 86400,
        httpOnly: true,
      });
    }
    const url = new URL(c.req.url);
    c.set("visitor", who);
    c.set("page", {
      t: words(lang),
      lang,
      here: url.pathname + url.search,
      role: who.role,
      session: who.session !== undefined,
      csrf: who.session ? csrfToken(who.session, tokens()) : undefined,
      has: { store: deps.store !== undefined, alerts: deps.alerts?.() !== undefined },
    });
    if (OPEN.test(c.req.path)) return await next();
    if (!who.role) {
      if (c.req.method === "GET" || c.req.method === "HEAD") {
        if (who.refused) return c.text(who.refused, 401);
        return c.redirect(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      return c.text("sign in first", 401);
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      // Every write from a page: same origin, and the session's CSRF token in the form.
      if (!sameOrigin(c.req.raw.headers, c.req.url)) {
        return c.text("cross-origin write refused", 403);
      }
      const form = await c.req.parseBody();
      if (!who.session || !csrfOk(form.csrf, who.session, tokens())) {
        return c.text("missing or wrong CSRF token: reload the page", 403);
      }
    }
    c.header("Cache-Control", "no-store");
    return await next();
  });

  const notFound = (c: Ctx, message: string) =>
    c.html(<NotFoundPage ctx={c.var.page} message={message} />, 404);

  app.get("/assets/:file", (c) => {
    const asset = ASSETS.get(c.req.path);
    if (!asset) return notFound(c, c.req.path);
    return c.body(asset.body, 200, {
      "Content-Type": asset.type,
      "Cache-Control": "public, max-age=31536000, immutable",
    });
  });

  app.get("/signin", (c) => {
    const t = tokens();
    return c.html(
      <SignInPage
        ctx={c.var.page}
        next={safeNext(c.req.query("next"))}
        noTokens={!t.read && !t.write}
      />,
    );
  });

  app.post("/signin", async (c) => {
    if (!sameOrigin(c.req.raw.headers, c.req.url)) {
      return c.text("cross-origin sign-in refused", 403);
    }
    const form = await c.req.parseBody();
    const next = safeNext(typeof form.next === "string" ? form.next : undefined);
    const t = tokens();
    const role = typeof form.token === "string" ? roleOf(form.token.trim(), t) : undefined;
    if (!role) {
      deps.logger.warn("console sign-in refused", {
        from: (c.env?.remoteAddr as Deno.NetAddr | undefined)?.hostname,
      });
      return c.html(
        <SignInPage
          ctx={c.var.page}
          next={next}
          error={c.var.page.t.wrongToken}
          noTokens={!t.read && !t.write}
        />,
        401,
      );
    }
    setCookie(c, SESSION_COOKIE, signSession(role, t, Date.now()), {
      path: "/",
      httpOnly: true,
      sameSite: "Strict",
      maxAge: SESSION_MS / 1000,
    });
    return c.redirect(next, 303);
  });

  app.post("/signout", (c) => {
    const s = c.var.visitor.session;
    if (s) ended.set(s.nonce, s.expires);
    setCookie(c, SESSION_COOKIE, "", { path: "/", httpOnly: true, sameSite: "Strict", maxAge: 0 });
    return c.redirect("/signin", 303);
  });

  app.get(
    "/",
    async (c) => c.html(<OverviewPage ctx={c.var.page} data={await overview.read(Date.now())} />),
  );

  app.get("/probes/:name", async (c) => {
    const name = c.req.param("name");
    const status = deps.board.status(name);
    if (!status) return notFound(c, `no probe named ${JSON.stringify(name)}`);
    const window = c.req.query("window") ?? "1h";
    const span = PROBE_WINDOWS[window];
    if (!span) return notFound(c, `window ${JSON.stringify(window)}: 1h, 6h or 24h`);
    const until = Date.now();
    const since = until - span;
    const samples = await probeSamples(deps, name, since, until);
    return c.html(
      <ProbePage
        ctx={c.var.page}
        status={status}
        window={window}
        since={since}
        until={until}
        samples={samples}
      />,
    );
  });

  const store = deps.store;
  if (store) {
    app.get("/runs", async (c) => {
      const filters: Record<string, string> = {};
      for (const k of TRACE_FILTERS) {
        const v = c.req.query(k)?.trim();
        if (v) filters[k] = v;
      }
      const cursor = c.req.query("cursor");
      const parsed = parseListQuery({ ...filters, cursor, limit: "50" }, Date.now());
      if (!parsed.ok) {
        return c.html(<TracesPage ctx={c.var.page} filters={filters} error={parsed.error} />, 400);
      }
      const result = await store.listRuns(parsed.value);
      return c.html(<TracesPage ctx={c.var.page} filters={filters} result={result} />);
    });

    app.get("/runs/:sid", async (c) => {
      const sid = c.req.param("sid");
      if (!SID_PATTERN.test(sid)) {
        return notFound(c, `${JSON.stringify(sid.slice(0, 60))} is not a sid`);
      }
      const offsetText = c.req.query("node_offset") ?? "0";
      const offset = /^\d{1,9}$/.test(offsetText) ? Number(offsetText) : 0;
      const run = await store.getRun(sid, { nodes: { offset, limit: RUN_PAGE_NODES } });
      if (!run) return notFound(c, `no run with sid ${JSON.stringify(sid)}`);
      return c.html(
        <RunPage ctx={c.var.page} run={run} logLines={await serviceLogLines(store, sid)} />,
      );
    });

    // One node's whole field, as stored (offloaded texts stay links): only when asked for.
    app.get("/runs/:sid/nodes/:idx/:field", async (c) => {
      const { sid, idx, field } = c.req.param();
      if (!SID_PATTERN.test(sid) || !(FIELDS as readonly string[]).includes(field)) {
        return notFound(c, c.req.path);
      }
      const run = await store.getRun(sid, { nodes: { offset: Number(idx), limit: 1 } });
      const node = run?.record.trace?.[0];
      if (!node) return notFound(c, `no node ${idx} in run ${JSON.stringify(sid)}`);
      const value = (node.data as Record<string, unknown> | undefined)?.[field];
      return c.body(JSON.stringify(value ?? null, null, 2), 200, {
        "Content-Type": "application/json; charset=utf-8",
      });
    });

    app.get("/blobs/:hash", async (c) => {
      const hash = c.req.param("hash");
      const text = isBlobHash(hash) ? await store.readBlob(hash) : undefined;
      if (text === undefined) return notFound(c, `no blob ${hash.slice(0, 64)}`);
      return c.body(text, 200, { "Content-Type": "text/plain; charset=utf-8" });
    });

    app.get("/usage", async (c) => {
      const window = c.req.query("window") ?? "24h";
      const w = USAGE_WINDOWS[window];
      if (!w) return notFound(c, `window ${JSON.stringify(window)}: 1h, 24h or 7d`);
      const until = Date.now();
      const since = until - w.span;
      const [series, byApp, byNode] = await Promise.all([
        store.usageSeries({ since, until, step: w.step }),
        store.usage({ by: "app_id", since, until }),
        store.usage({ by: "node_type", since, until }),
      ]);
      return c.html(
        <UsagePage
          ctx={c.var.page}
          window={window}
          series={series}
          byApp={byApp}
          byNode={byNode}
        />,
      );
    });
  }

  const alertsPage = async (c: Ctx, error?: string) => {
    const engine = deps.alerts?.();
    if (!engine) return notFound(c, "no alert rules are configured (alerts.rules)");
    const now = Date.now();
    const history = await engine.history(now - 86_400_000, 200).catch(() => []);
    return c.html(
      <AlertsPage
        ctx={c.var.page}
        now={now}
        alerts={engine.alerts()}
        silences={engine.silences(now)}
        history={history}
        error={error}
      />,
      error ? 400 : 200,
    );
  };
  app.get("/alerts", (c) => alertsPage(c));

  app.post("/alerts/silences", async (c) => {
    const engine = deps.alerts?.();
    if (!engine) return notFound(c, "no alert rules are configured (alerts.rules)");
    if (c.var.visitor.role !== "write") return c.text("silences need the write token", 403);
    const form = await c.req.parseBody();
    const text = (k: string) => typeof form[k] === "string" ? (form[k] as string).trim() : "";
    const matchers = text("matchers").split(/,\s*(?=[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=))/)
      .filter((m) => m);
    const parsed = parseSilence({
      matchers,
      duration: text("duration"),
      author: text("author") || "console",
      comment: text("comment"),
    }, Date.now());
    if (!parsed.ok) return alertsPage(c, parsed.error);
    await engine.addSilence(parsed.silence);
    return c.redirect("/alerts", 303);
  });

  app.post("/alerts/silences/:id/expire", async (c) => {
    const engine = deps.alerts?.();
    if (!engine) return notFound(c, "no alert rules are configured (alerts.rules)");
    if (c.var.visitor.role !== "write") return c.text("silences need the write token", 403);
    const id = c.req.param("id");
    if (!await engine.endSilence(id)) {
      return alertsPage(c, `no silence ${JSON.stringify(id)} in force`);
    }
    return c.redirect("/alerts", 303);
  });

  app.notFound((c) => notFound(c as Ctx, `${c.req.method} ${c.req.path}`));
  // A page the store cannot answer now: a 503 page, logged as the API logs its failures.
  app.onError((err, c) => {
    const away = err instanceof StoreUnavailableError || err instanceof StoreFullError;
    if (!away) {
      deps.logger.error("console request failed", { path: c.req.path, err: errorMessage(err) });
    }
    const status = away ? 503 : 500;
    const { t } = (c as Ctx).var.page;
    return c.html(
      <ErrorPage
        ctx={(c as Ctx).var.page}
        status={status}
        title={t.unavailable}
        message={away ? err.message : "internal error"}
      />,
      status,
      away ? { "Retry-After": "5" } : {},
    );
  });
  return app as unknown as Hono<ApiEnv>;
}

/** Where sign-in may send the browser next: a path on this origin, else `/`. */
function safeNext(next: string | undefined): string {
  // Parsed as the browser will (which drops tabs and newlines: "/\t/x" is "//x").
  const base = "http://console.invalid";
  try {
    const url = new URL(next ?? "/", base);
    return url.origin === base ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}
