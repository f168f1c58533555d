import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";
import { parseConfigText } from "../src/config/load.ts";
import { Logger } from "../src/log/logger.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import { StoreUnavailableError } from "../src/store/store.ts";
import { openTestStore } from "./fixtures/store.ts";
import { Clock, KNOWN_SERVICES, knownStream, T0 } from "./fixtures/platform_metrics.ts";

/** The agent's API app with the rollups as its metrics reader, on a loopback port. */
function serve(metrics: MetricRollups) {
  const parsed = parseConfigText("probes: []\n", {});
  if (!parsed.ok) throw new Error("defaults must parse");
  const app = createApp({
    version: "test",
    startedAt: T0,
    server: () => parsed.config.server,
    board: new ProbeBoard(),
    readiness: () => [{ component: "rollups", ready: true }],
    scrape: () => Promise.resolve(""),
    logger: new Logger(),
    metrics,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    async get(path: string, headers?: HeadersInit) {
      const res = await fetch(base + path, { headers });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("GET /api/v1/services answers requests, error ratio and p50/p90/p99 of a known stream", async (t) => {
  await using ts = await openTestStore();
  const clock = new Clock(T0);
  let down = false;
  const store = {
    config: ts.store.config,
    get backend() {
      if (down) throw new StoreUnavailableError("the database is unreachable (test)");
      return ts.store.backend;
    },
  };
  const sink = new MetricRollups({ store, logger: new Logger(), now: clock.now });
  for (const { at, metrics } of knownStream()) {
    clock.t = at;
    assert.equal((await sink.take(metrics, at)).dropped, 0);
  }
  clock.t = T0 + 360_000;
  await using api = serve(sink);

  await t.step("before a flush, from the minutes in memory", async () => {
    const res = await api.get("/api/v1/services");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), KNOWN_SERVICES);
  });

  await t.step("after a flush, from the database", async () => {
    assert.equal((await sink.flush()).error, undefined);
    const res = await api.get("/api/v1/services?window=5m");
    const body = res.json();
    assert.deepEqual(body, KNOWN_SERVICES);
    const chat = body.services[0].funcs[0];
    assert.equal(chat.requests, 150);
    assert.equal(chat.error_ratio, 0.2);
    assert.deepEqual(chat.latency_ms, { p50: 8.125, p90: 175, p99: 242.5, count: 100 });
  });

  await t.step("a longer window divides the same requests by more minutes", async () => {
    const body = (await api.get("/api/v1/services?window=10m")).json();
    assert.equal(body.window_seconds, 600);
    assert.equal(body.services[0].requests, 210);
    assert.equal(body.services[0].requests_per_min, 21);
  });

  await t.step("the metrics query answers per-func rates over HTTP", async () => {
    const since = T0 + 120_000;
    const res = await api.get(
      `/api/v1/metrics/query?name=server_request_total&by=func,ret&since=${since}&until=${
        since + 120_000
      }&step=2m`,
    );
    assert.equal(res.status, 200);
    const body = res.json();
    assert.equal(body.value, "rate_per_second");
    assert.equal(body.step_seconds, 120);
    assert.deepEqual(
      body.series.map((s: { labels: unknown; points: [number, number][] }) => [
        s.labels,
        s.points.map(([t, v]) => [t, Math.round(v * 120)]),
      ]),
      [
        [{ func: "chat", ret: "0" }, [[since, 48]]],
        [{ func: "chat", ret: "20204" }, [[since, 12]]],
        [{ func: "upload", ret: "0" }, [[since, 24]]],
      ],
    );
  });

  await t.step("a quantile query over HTTP takes q", async () => {
    const res = await api.get(
      `/api/v1/metrics/query?name=server_request_time_microseconds&by=func&q=0.9&since=${
        T0 + 120_000
      }&until=${T0 + 180_000}`,
    );
    const body = res.json();
    assert.equal(body.q, 0.9);
    assert.deepEqual(body.series.map((s: { points: unknown[] }) => s.points), [
      [[T0 + 120_000, 175]],
      [[T0 + 120_000, 47.5]],
    ]);
  });

  await t.step("/status has a services section", async () => {
    const text = (await api.get("/status")).text;
    assert.match(text, /platform services, last 5m:/);
    assert.match(text, /^core-workflow\s+42\.0\s+14\.3%\s+9\.38ms\s+145ms\s+240ms\s+4$/m);
    const json = (await api.get("/status?format=json")).json();
    assert.deepEqual(json.services, KNOWN_SERVICES.services);
  });

  const bad: [string, string, number, RegExp][] = [
    ["a window that is not a duration", "/api/v1/services?window=soon", 400, /^window: "soon"/],
    ["an unknown parameter", "/api/v1/services?windw=5m", 400, /^unknown parameter "windw"/],
    ["a query without a name", "/api/v1/metrics/query", 400, /^name: required/],
  ];
  for (const [name, path, status, message] of bad) {
    await t.step(`${name} gets ${status} naming it`, async () => {
      const res = await api.get(path);
      assert.equal(res.status, status);
      assert.match(res.json().error.message, message);
    });
  }

  await t.step(
    "while the database is away: 503 with Retry-After, and /status says so",
    async () => {
      down = true;
      const res = await api.get("/api/v1/services");
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "5");
      assert.match(res.json().error.message, /not available/);
      assert.match((await api.get("/status")).text, /services: cannot be read \(the database/);
      down = false;
    },
  );
  await sink.stop();
});
