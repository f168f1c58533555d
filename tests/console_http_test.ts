/**
 * The console over HTTP without a browser: who may see it (loopback, tokens,
 * the session cookie and its end), what every answer forbids (CSP), the
 * assets' cache headers, 404 pages, a refused filter shown beside the form,
 * CSRF on writes, big runs paged and big fields held back; and the language.
 */

import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";
import { Logger } from "../src/log/logger.ts";
import type { Store } from "../src/store/store.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { parseConfigText } from "../src/config/load.ts";
import { pickLang } from "../src/console/i18n.ts";
import { readSession, signSession } from "../src/console/session.ts";
import { isConsolePath } from "../src/console/paths.ts";
import { ASSETS, SCRIPT, STYLE } from "../src/console/assets.ts";
import { chatRun, errorRun, smallRun } from "./fixtures/workflow.ts";
import { tempDir } from "./support/agent.ts";
import { startTestStore } from "./support/store.ts";

const LOOPBACK = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 } };
const REMOTE = { remoteAddr: { transport: "tcp", hostname: "10.1.2.3", port: 50000 } };

/** A real app over a real SQLite store, with the tokens given. */
async function consoleApp(dir: string, server = "") {
  const parsed = parseConfigText(
    `server:\n${server || "  listen: 127.0.0.1:0"}\nprobes:\n` +
      `  - { name: api, type: tcp, target: "127.0.0.1:1" }\n`,
    {},
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const logger = new Logger({ level: "error" });
  const store: Store = await startTestStore(dir, logger);
  const board = new ProbeBoard();
  board.sync(parsed.config.probes);
  const app = createApp({
    version: "test",
    startedAt: Date.now(),
    server: () => parsed.config.server,
    board,
    readiness: () => [],
    store,
    scrape: () => Promise.resolve(""),
    logger,
  });
  return {
    store,
    get: (path: string, env: object = LOOPBACK, headers: HeadersInit = {}) =>
      app.request(path, { headers: { Accept: "text/html", ...headers } }, env),
    post: (path: string, form: Record<string, string>, env: object, headers: HeadersInit = {}) =>
      app.request(path, {
        method: "POST",
        body: new URLSearchParams(form),
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
        redirect: "manual",
      }, env),
  };
}

Deno.test("console: on loopback without tokens the overview opens; every answer forbids other origins", async () => {
  await using dir = await tempDir();
  const c = await consoleApp(dir.path);
  try {
    const res = await c.get("/");
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const html = await res.text();
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /data-probe="api" data-state="pending"/);
    // Every URL the page names is on this origin.
    for (const m of html.matchAll(/(?:src|href)="([^"]*)"/g)) {
      assert.ok(m[1].startsWith("/") || m[1].startsWith("#") || m[1] === "data:,", m[1]);
    }
    // From elsewhere, with no read token, it is the API's rule: sign in (with the write token).
    const remote = await c.get("/", REMOTE);
    assert.equal(remote.status, 303);
    assert.equal(remote.headers.get("location"), "/signin?next=%2F");
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: assets have hashed names and a year of cache; unknown pages are HTML 404s", async () => {
  await using dir = await tempDir();
  const c = await consoleApp(dir.path);
  try {
    assert.equal(ASSETS.size, 2);
    for (const a of [STYLE, SCRIPT]) {
      assert.match(a.path, /^\/assets\/console\.[0-9a-f]{12}\.(css|js)$/);
      const res = await c.get(a.path, REMOTE); // open to anyone: no data in them
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(await res.text(), a.body);
    }
    for (const path of ["/probes/nope", "/runs/spf1@nope", "/assets/console.0.css", "/nope"]) {
      const res = await c.get(path);
      assert.equal(res.status, 404, path);
      assert.match(res.headers.get("content-type") ?? "", /text\/html/, path);
      assert.match(await res.text(), /id="not-found"/, path);
    }
    // An API client still gets JSON.
    const api = await c.get("/nope", LOOPBACK, { Accept: "application/json" });
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error.code, "not_found");
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: sign-in takes the read or write token, refuses others, and sign-out ends the session", async () => {
  await using dir = await tempDir();
  const c = await consoleApp(dir.path, "  read_token: r3ad\n  write_token: wr1te");
  const origin = { Origin: "http://localhost" };
  try {
    // A read token is set: even loopback must sign in.
    assert.equal((await c.get("/")).status, 303);
    const wrong = await c.post("/signin", { token: "guess", next: "/" }, REMOTE, origin);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("set-cookie"), null);
    // A form posted from another site is refused before the token is looked at.
    const forged = await c.post("/signin", { token: "r3ad" }, REMOTE, { Origin: "http://evil" });
    assert.equal(forged.status, 403);
    const ok = await c.post("/signin", { token: "r3ad", next: "/runs" }, REMOTE, origin);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/runs");
    const cookie = ok.headers.get("set-cookie") ?? "";
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const session = cookie.split(";")[0];
    const page = await c.get("/runs", REMOTE, { Cookie: session });
    assert.equal(page.status, 200);
    const html = await page.text();
    // A read session cannot change silences, and its form says so.
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    assert.ok(csrf);
    const out = await c.post("/signout", { csrf }, REMOTE, { ...origin, Cookie: session });
    assert.equal(out.status, 303);
    assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal((await c.get("/runs", REMOTE, { Cookie: session })).status, 303);
    // An open redirect is not possible through `next`.
    const away = await c.post(
      "/signin",
      { token: "r3ad", next: "//evil.example/" },
      REMOTE,
      origin,
    );
    assert.equal(away.headers.get("location"), "/");
    // A tab the browser drops would make "/\t/evil.example" a link to another site.
    for (const next of ["/\t/evil.example/", "/\\evil.example/", "https://evil.example/"]) {
      const r = await c.post("/signin", { token: "r3ad", next }, REMOTE, origin);
      assert.equal(new URL(r.headers.get("location") ?? "", "http://x").host, "x", next);
    }
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: a session is signed with the token in force; a changed token or tampering ends it", () => {
  const tokens = { read: "r", write: "w" };
  const now = Date.parse("2026-11-26T10:00:00Z");
  const v = signSession("write", tokens, now);
  const none = new Set<string>();
  assert.equal(readSession(v, tokens, now, none)?.role, "write");
  assert.equal(readSession(v, { read: "r", write: "w2" }, now, none), undefined);
  assert.equal(readSession(v.replace("write.", "read."), tokens, now, none), undefined);
  assert.equal(readSession(v, tokens, now + 13 * 3_600_000, none), undefined);
  const nonce = v.split(".")[2];
  assert.equal(readSession(v, tokens, now, new Set([nonce])), undefined);
  assert.throws(() => signSession("read", { read: "", write: "w" }, now), /no read token/);
});

Deno.test("console: writes need the write session, this origin and the CSRF token", async () => {
  await using dir = await tempDir();
  const c = await consoleApp(dir.path, "  write_token: wr1te");
  const origin = { Origin: "http://localhost" };
  try {
    const signin = await c.post("/signin", { token: "wr1te" }, LOOPBACK, origin);
    const session = (signin.headers.get("set-cookie") ?? "").split(";")[0];
    const page = await (await c.get("/", LOOPBACK, { Cookie: session })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    const form = { matchers: 'rule="x"', duration: "1h" };
    // No alert engine here: the silence route is a 404 once the write checks pass.
    const noToken = await c.post("/alerts/silences", form, LOOPBACK, {
      ...origin,
      Cookie: session,
    });
    assert.equal(noToken.status, 403);
    assert.match(await noToken.text(), /CSRF/);
    const otherSite = await c.post("/alerts/silences", { ...form, csrf }, LOOPBACK, {
      Origin: "http://evil",
      Cookie: session,
    });
    assert.equal(otherSite.status, 403);
    // Loopback reads without signing in, but has no session to write with.
    const anonymous = await c.post("/alerts/silences", { ...form, csrf }, LOOPBACK, origin);
    assert.equal(anonymous.status, 403);
    const ok = await c.post("/alerts/silences", { ...form, csrf }, LOOPBACK, {
      ...origin,
      Cookie: session,
    });
    assert.equal(ok.status, 404);
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: the runs page shows a refused filter beside the form, pages with a cursor, and finds by text", async () => {
  await using dir = await tempDir();
  const c = await consoleApp(dir.path);
  try {
    const runs = Array.from({ length: 60 }, (_, i) => smallRun(i, { nodes: 3 }));
    const failed = errorRun();
    assert.equal((await c.store.ingestRuns([...runs, failed])).accepted, 61);
    await c.store.flush();
    const bad = await c.get("/runs?since=yesterday-ish");
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /id="query-error">since: &quot;yesterday-ish&quot;/);
    const first = await (await c.get("/runs")).text();
    assert.equal([...first.matchAll(/<tr data-sid=/g)].length, 50);
    const next = /id="next" href="([^"]+)"|href="([^"]+)" id="next"/.exec(first);
    const href = (next?.[1] ?? next?.[2] ?? "").replaceAll("&amp;", "&");
    assert.match(href, /^\/runs\?cursor=/);
    const second = await (await c.get(href)).text();
    assert.equal([...second.matchAll(/<tr data-sid=/g)].length, 11);
    const errors = await (await c.get("/runs?status=error")).text();
    // smallRun fails one run in ten (i % 10 === 0): 0, 10, ..., 50, and the error run.
    const shown = [...errors.matchAll(/<tr data-sid="([^"]+)"/g)].map((m) => m[1]).sort();
    const expected = [failed.sid, ...runs.filter((_, i) => i % 10 === 0).map((r) => r.sid)];
    assert.deepEqual(shown, expected.sort());
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: a run of 10,000 nodes renders a page at a time; a 10 MB input is never sent unless asked for", async () => {
  await using dir = await tempDir();
  const c = await consoleApp(dir.path);
  try {
    const many = smallRun(1, { nodes: 10_000 });
    const big = chatRun();
    // 10 MB as many small strings (offloading takes long strings; this stays inline).
    big.trace![1].data!.input = {
      parts: Array.from({ length: 200_000 }, (_, i) => `part ${i} ` + "x".repeat(40)),
    };
    assert.equal((await c.store.ingestRuns([many, big])).accepted, 2);
    await c.store.flush();
    const res = await c.get(`/runs/${encodeURIComponent(many.sid)}`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.equal(/data-rows="(\d+)"/.exec(html)?.[1], "200");
    assert.match(html, /id="next-nodes"/);
    const last = await (await c.get(`/runs/${encodeURIComponent(many.sid)}?node_offset=9800`))
      .text();
    assert.match(last, /id="node-9999"/);
    assert.doesNotMatch(last, /id="next-nodes"/);

    const page = await c.get(`/runs/${encodeURIComponent(big.sid)}`);
    const body = await page.text();
    assert.ok(body.length < 200_000, `run page of ${body.length} bytes`);
    const field = /href="(\/runs\/[^"]+\/nodes\/1\/input)"/.exec(body)?.[1];
    assert.ok(field, "a link to the whole field");
    const whole = await c.get(field!);
    assert.equal(whole.status, 200);
    assert.equal((await whole.json()).parts.length, 200_000);
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: the language follows ?lang=, then the cookie, then Accept-Language; Chinese by default", async () => {
  assert.equal(pickLang(undefined, undefined, undefined), "zh");
  assert.equal(pickLang(undefined, undefined, "en-US,en;q=0.9"), "en");
  assert.equal(pickLang(undefined, undefined, "en;q=0.5, zh-CN;q=0.8"), "zh");
  assert.equal(pickLang(undefined, "en", "zh-CN"), "en");
  assert.equal(pickLang("zh", "en", "en"), "zh");
  assert.equal(pickLang(undefined, undefined, "fr-FR"), "zh");
  await using dir = await tempDir();
  const c = await consoleApp(dir.path);
  try {
    const en = await c.get("/", LOOPBACK, { "Accept-Language": "en-GB" });
    assert.match(await en.text(), /<html lang="en">.*Overview/s);
    const switched = await c.get("/?lang=zh", LOOPBACK, { "Accept-Language": "en-GB" });
    assert.match(switched.headers.get("set-cookie") ?? "", /aw_lang=zh/);
    assert.match(await switched.text(), /总览/);
  } finally {
    await c.store.stop();
  }
});

Deno.test("console: its paths are its own; the API's stay the API's", () => {
  for (const p of ["/", "/probes/api", "/runs", "/runs/x@y", "/runs/x/nodes/3/input", "/usage"]) {
    assert.ok(isConsolePath(p), p);
  }
  for (const p of ["/api/v1/traces", "/status", "/metrics", "/healthz", "/v1/traces", "/x"]) {
    assert.ok(!isConsolePath(p), p);
  }
});
