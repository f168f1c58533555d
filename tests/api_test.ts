import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";
import { isLoopback, safeEqual } from "../src/api/middleware/access.ts";
import { parseConfigText } from "../src/config/load.ts";
import type { ServerConfig } from "../src/config/schema.ts";
import { Logger } from "../src/log/logger.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { startTestStore } from "./support/store.ts";

/** Serve the real app on a loopback port with the given server settings. */
function serve(server: Partial<ServerConfig>) {
  const parsed = parseConfigText("probes: []\n", {});
  if (!parsed.ok) throw new Error("defaults must parse");
  const settings = { ...parsed.config.server, ...server };
  const app = createApp({
    version: "test",
    startedAt: Date.now(),
    server: () => settings,
    board: new ProbeBoard(),
    readiness: () => [{ component: "api", ready: true }],
    scrape: () => Promise.resolve(""),
    logger: new Logger(),
  });
  const httpServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }),
  );
  const base = `http://127.0.0.1:${httpServer.addr.port}`;
  return {
    async fetch(path: string, init?: RequestInit) {
      const res = await fetch(base + path, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
    },
    [Symbol.asyncDispose]: () => httpServer.shutdown(),
  };
}

Deno.test("writes are refused without a configured write token, with a JSON error", async () => {
  await using api = serve({ write_token: "" });
  const res = await api.fetch("/api/v1/traces", { method: "POST", body: "{}" });
  assert.equal(res.status, 403);
  assert.deepEqual(res.json(), {
    error: { code: "forbidden", message: "writes are disabled: set server.write_token" },
  });
});

Deno.test("writes need the exact bearer token", async (t) => {
  await using api = serve({ write_token: "s3cret-token" });
  const cases: [string, Record<string, string>, number][] = [
    ["no header", {}, 401],
    ["a wrong token", { Authorization: "Bearer s3cret-tokeN" }, 401],
    ["a prefix of the token", { Authorization: "Bearer s3cret" }, 401],
    ["basic auth", { Authorization: "Basic czNjcmV0LXRva2Vu" }, 401],
    ["the right token (then 404: no such route)", { Authorization: "Bearer s3cret-token" }, 404],
  ];
  for (const [name, headers, status] of cases) {
    await t.step(`a write with ${name} gets ${status}`, async () => {
      const res = await api.fetch("/api/v1/nothing", { method: "POST", headers, body: "{}" });
      assert.equal(res.status, status);
      assert.equal(res.headers.get("content-type"), "application/json");
      if (status === 401) {
        assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="astron-watch"');
      }
    });
  }
});

Deno.test("a body over the limit gets 413 without being read whole", async () => {
  await using api = serve({ write_token: "t", max_body: 64 * 1024 });
  const body = new Uint8Array(200 * 1024).fill(0x61);
  const res = await api.fetch("/api/v1/traces", {
    method: "POST",
    headers: { Authorization: "Bearer t" },
    body,
  });
  assert.equal(res.status, 413);
  assert.equal(res.json().error.code, "payload_too_large");
  const small = await api.fetch("/api/v1/traces", {
    method: "POST",
    headers: { Authorization: "Bearer t" },
    body: "{}",
  });
  assert.equal(small.status, 404);
});

Deno.test("a read token, when set, is required from everyone; the write token also reads", async () => {
  await using api = serve({ read_token: "reader", write_token: "writer" });
  assert.equal((await api.fetch("/status")).status, 401);
  assert.equal(
    (await api.fetch("/status", { headers: { Authorization: "Bearer nope" } })).status,
    401,
  );
  assert.equal(
    (await api.fetch("/status", { headers: { Authorization: "Bearer reader" } })).status,
    200,
  );
  assert.equal(
    (await api.fetch("/status", { headers: { Authorization: "Bearer writer" } })).status,
    200,
  );
  const health = await api.fetch("/healthz");
  assert.equal(health.status, 200, "health checks stay open");
});

Deno.test("unknown routes and probes answer 404 as JSON", async () => {
  await using api = serve({});
  const route = await api.fetch("/nope");
  assert.equal(route.status, 404);
  assert.deepEqual(route.json(), {
    error: { code: "not_found", message: "no route for GET /nope" },
  });
  const probe = await api.fetch("/api/v1/probes/ghost");
  assert.equal(probe.status, 404);
  assert.equal(probe.json().error.message, 'no probe named "ghost"');
  const limit = await api.fetch("/api/v1/probes/ghost?limit=x");
  assert.equal(limit.status, 404);
});

Deno.test("loopback is 127.0.0.0/8 and ::1, nothing else", () => {
  const tcp = (hostname: string): Deno.NetAddr => ({ transport: "tcp", hostname, port: 1 });
  assert.equal(isLoopback(tcp("127.0.0.1")), true);
  assert.equal(isLoopback(tcp("127.8.9.10")), true);
  assert.equal(isLoopback(tcp("::1")), true);
  assert.equal(isLoopback(tcp("::ffff:127.0.0.1")), true);
  assert.equal(isLoopback(tcp("10.0.0.1")), false);
  assert.equal(isLoopback(tcp("128.0.0.1")), false);
  assert.equal(isLoopback(tcp("::ffff:10.0.0.1")), false);
  assert.equal(isLoopback(undefined), false);
});

Deno.test("token comparison is exact", () => {
  assert.equal(safeEqual("abc", "abc"), true);
  assert.equal(safeEqual("abc", "abd"), false);
  assert.equal(safeEqual("abc", "abcd"), false);
  assert.equal(safeEqual("", ""), true);
});

Deno.test("an optional part's routes: 503 while it starts, 409 when it is not configured", async (t) => {
  const dir = await Deno.makeTempDir();
  const logger = new Logger({ level: "error" });
  const store = await startTestStore(dir, logger);
  try {
    const parsed = parseConfigText("probes: []\n", {});
    if (!parsed.ok) throw new Error("defaults must parse");
    let configured = true;
    const app = createApp({
      version: "test",
      startedAt: Date.now(),
      server: () => parsed.config.server,
      board: new ProbeBoard(),
      readiness: () => [],
      store,
      access: () => undefined,
      accessConfigured: () => configured,
      alerts: () => undefined,
      alertsConfigured: () => configured,
      scrape: () => Promise.resolve(""),
      logger,
    });
    for (
      const [path, missing] of [
        ["/api/v1/access", /no access logs are configured/],
        ["/api/v1/alerts/history", /no alerts are configured/],
      ] as const
    ) {
      await t.step(path, async () => {
        const ask = () =>
          app.fetch(new Request(`http://127.0.0.1${path}`), {
            remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
          });
        configured = true;
        const starting = await ask();
        assert.equal(starting.status, 503);
        assert.equal(starting.headers.get("retry-after"), "1");
        assert.match((await starting.json()).error.message, /starting/);
        configured = false;
        const none = await ask();
        assert.equal(none.status, 409);
        assert.match((await none.json()).error.message, missing);
      });
    }
  } finally {
    await store.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
