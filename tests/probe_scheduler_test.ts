import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { Logger } from "../src/log/logger.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { PROBES } from "../src/probe/registry.ts";
import { ProbeScheduler, runWithDeadline } from "../src/probe/scheduler.ts";
import type { Probe } from "../src/probe/types.ts";
import { freePort, tcpServer } from "./support/servers.ts";

function probes(yaml: string): ProbeConfig[] {
  const r = parseConfigText(yaml, {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes;
}

Deno.test("a probe of a server that accepts and never answers ends within 100 ms of its timeout", async () => {
  await using server = tcpServer("silent");
  const [config] = probes(`probes:
  - { name: hung, type: http, url: "http://127.0.0.1:${server.port}/", timeout: 300ms, interval: 1s }`);
  const t0 = performance.now();
  const result = await runWithDeadline(
    (signal) => PROBES.http(config, { signal }),
    config.timeout,
  );
  const took = performance.now() - t0;
  assert.equal(result.ok, false);
  assert.equal(result.code, "timeout");
  assert.match(result.reason ?? "", /timed out/);
  assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
});

Deno.test("the deadline holds even for a probe that ignores its signal", async () => {
  let release!: () => void;
  const stuck = new Promise<void>((r) => release = r);
  const ignoring: Probe = async () => {
    await stuck;
    return { ok: true, code: "ok", phases: { total: 0 }, started_at: Date.now() };
  };
  const [config] = probes(
    `probes: [{ name: x, type: tcp, target: "127.0.0.1:1", timeout: 100ms }]`,
  );
  const result = await runWithDeadline((signal) => ignoring(config, { signal }), 100);
  assert.equal(result.ok, false);
  assert.equal(result.code, "timeout");
  assert.equal(result.reason, "timed out after 100ms");
  release();
});

Deno.test("tcp probe reports refused when the port is closed", async () => {
  const port = freePort();
  const [config] = probes(`probes: [{ name: x, type: tcp, target: "127.0.0.1:${port}" }]`);
  const result = await PROBES.tcp(config, { signal: new AbortController().signal });
  assert.equal(result.ok, false);
  assert.equal(result.code, "refused");
  assert.match(result.reason!, /refused/i);
});

Deno.test("the scheduler runs on a fixed schedule, marks down after retries, and frees its slot", async () => {
  let calls = 0;
  const failing: Probe = () => {
    calls++;
    return Promise.resolve({
      ok: false,
      code: "error",
      reason: "nope",
      phases: { total: 1 },
      started_at: Date.now(),
    });
  };
  const board = new ProbeBoard();
  const scheduler = new ProbeScheduler({
    registry: { ...PROBES, tcp: failing },
    board,
    logger: new Logger(),
    maxConcurrent: 1,
  });
  const config = probes(
    `probes: [{ name: x, type: tcp, target: "127.0.0.1:1", interval: 100ms, timeout: 50ms, retries: 3, jitter: 0s }]`,
  );
  scheduler.update(config);
  await new Promise((r) => setTimeout(r, 1050));
  await scheduler.stop();
  // Runs at 0, 100, ..., 1000 ms: 11 runs, give or take one for timer slack.
  assert.ok(calls >= 10 && calls <= 12, `calls=${calls}`);
  const status = board.status("x")!;
  assert.equal(status.state, "down");
  assert.equal(status.uptime, 0);
  assert.equal(status.last_error?.reason, "nope");
  assert.equal(scheduler.inFlight, 0);
});

Deno.test("the board computes percentiles and uptime over its window", () => {
  const board = new ProbeBoard();
  const [config] = probes(`probes: [{ name: x, type: tcp, target: "127.0.0.1:1", retries: 2 }]`);
  board.sync([config]);
  const now = Date.now();
  for (let i = 1; i <= 100; i++) {
    const ok = i % 10 !== 0;
    board.record("x", {
      ok,
      code: ok ? "ok" : "error",
      phases: { total: i },
      started_at: now - 1000 + i,
    });
  }
  const s = board.status("x", now)!;
  assert.equal(s.p50, 50);
  assert.equal(s.p90, 90);
  assert.equal(s.p99, 99);
  assert.equal(s.uptime, 0.9);
  assert.equal(s.failures, 1);
  assert.equal(s.state, "up", "one failure in a row is not down with retries: 2");
  board.record("x", { ok: false, code: "error", phases: { total: 1 }, started_at: now });
  assert.equal(board.status("x", now)!.state, "down");
});

Deno.test("a reload that changes only a probe's body_regex restarts it with the new one", async () => {
  const seen: string[] = [];
  const recording: Probe = (config) => {
    seen.push(config.expect.body_regex?.source ?? "");
    return Promise.resolve({ ok: true, code: "ok", phases: { total: 0 }, started_at: Date.now() });
  };
  const scheduler = new ProbeScheduler({
    registry: { ...PROBES, http: recording },
    board: new ProbeBoard(),
    logger: new Logger(),
  });
  const yaml = (re: string) =>
    probes(
      `probes: [{ name: x, type: http, url: "http://127.0.0.1:1/", interval: 100ms, timeout: 50ms, jitter: 0s, expect: { body_regex: "${re}" } }]`,
    );
  scheduler.update(yaml("^old"));
  await new Promise((r) => setTimeout(r, 30));
  scheduler.update(yaml("^new"));
  await new Promise((r) => setTimeout(r, 30));
  await scheduler.stop();
  assert.deepEqual(seen, ["^old", "^new"]);
});

Deno.test("a probe with a 30d interval and timeout runs once, not every millisecond", async () => {
  const runs = { month: 0, clock: 0 };
  let tick!: () => void;
  const count = (name: "month" | "clock"): Probe => () => {
    runs[name]++;
    if (name === "clock") tick();
    return Promise.resolve({ ok: true, code: "ok", phases: { total: 0 }, started_at: Date.now() });
  };
  const scheduler = new ProbeScheduler({
    registry: { ...PROBES, tcp: count("month"), redis: count("clock") },
    board: new ProbeBoard(),
    logger: new Logger(),
  });
  // The 100 ms probe is the clock: three of its runs take at least 200 ms, in which an
  // overflowing 30d timer (Deno fires it after 1 ms) would have run the other one ~200 times.
  const clockRuns = new Promise<void>((resolve) => {
    tick = () => runs.clock === 3 && resolve();
  });
  scheduler.update(probes(`probes:
  - { name: month, type: tcp, target: "127.0.0.1:1", interval: 30d, timeout: 30d, jitter: 0s }
  - { name: clock, type: redis, target: "127.0.0.1:1", interval: 100ms, timeout: 50ms, jitter: 0s }`));
  await clockRuns;
  await scheduler.stop();
  assert.equal(runs.month, 1);
});
