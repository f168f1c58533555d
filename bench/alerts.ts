/**
 * `deno run -A bench/alerts.ts [--rules 500] [--runs 1000000] [--series 10000] [--cycles 50]
 *   [--every 1000] [--lag-seconds 12]`
 *
 * One alert evaluation cycle (`AlertEngine.evaluate`) with `--rules` rules
 * of every kind, over a SQLite store filled with `--runs` workflow runs
 * over 7 days (1 in 37 failed, with an ERROR node log) and `--series`
 * received platform series (half `server_request_total`, half the latency
 * histogram; 20 minutes of exports) in the rollups, and 50 probes on the
 * board. Prints p50/p99 of the cycle. Then the probe scheduler's lag, 50
 * tcp probes every 100 ms for `--lag-seconds`, first alone (the baseline)
 * and then with the engine evaluating every `--every` ms (1 s: 15 times
 * the default `evaluation_interval`; 15000: the default), and the ratio.
 *
 * Prints a markdown table.
 */

import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { Logger } from "../src/log/logger.ts";
import { createStore } from "../src/store/store.ts";
import { toRows } from "../src/store/rows.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import type { HistogramPoint, ReceivedMetric, SumPoint } from "../src/otlp/metric_points.ts";
import { validateConfig } from "../src/config/schema.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { ProbeScheduler } from "../src/probe/scheduler.ts";
import { PROBES } from "../src/probe/registry.ts";
import { AlertEngine } from "../src/alerts/engine.ts";
import { smallRun } from "../tests/fixtures/workflow.ts";
import { percentile } from "../src/stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rules: { type: "string", default: "500" },
    runs: { type: "string", default: "1000000" },
    series: { type: "string", default: "10000" },
    cycles: { type: "string", default: "50" },
    every: { type: "string", default: "1000" },
    "lag-seconds": { type: "string", default: "12" },
  },
});
const RULES = Number(values.rules);
const RUNS = Number(values.runs);
const SERIES = Number(values.series);
const CYCLES = Number(values.cycles);
/** How often the engine evaluates while the lag is measured, ms (the default config: 15000). */
const EVERY = Number(values.every);
const LAG_MS = Number(values["lag-seconds"]) * 1000;
const PROBE_COUNT = 50;
const SERVICES = 50;
const BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-alerts-" });
const logger = new Logger();
const now = Date.now();

// A loopback target for the tcp probes, and a receiver for notifications.
const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const c of target) c.close();
})();
const receiver = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("ok"),
);
const targetPort = (target.addr as Deno.NetAddr).port;

function rawConfig() {
  const probes = Array.from({ length: PROBE_COUNT }, (_, i) => ({
    name: `svc-${i}`,
    type: "tcp",
    target: `127.0.0.1:${targetPort}`,
    interval: "100ms",
    timeout: "90ms",
    retries: 1,
    jitter: "100ms",
  }));
  const kinds = [
    (i: number) => ({ probe_down: { probes: [`svc-${i % PROBE_COUNT}*`] } }),
    (i: number) => ({
      error_ratio: {
        source: "otlp",
        service: `core-svc-${i % SERVICES}`,
        window: i % 2 ? "5m" : "15m",
        threshold: "1%",
        min_requests: 10,
        ...(i % 3 ? {} : { by: "func" }),
      },
    }),
    (i: number) => ({
      latency: { source: "otlp", service: `core-svc-${i % SERVICES}`, window: "5m", above: "2s" },
    }),
    (i: number) => ({
      error_ratio: { source: "probes", probes: [`svc-${i % PROBE_COUNT}`], window: "5m" },
    }),
    (i: number) => ({
      latency: { source: "probes", probes: ["*"], window: "5m", above: `${10 + i}ms` },
    }),
    (i: number) => ({ node_log: { window: i % 2 ? "5m" : "15m", count: 3 } }),
    (i: number) => ({ error_ratio: { source: "workflow", window: i % 2 ? "5m" : "15m" } }),
    () => ({ latency: { source: "workflow", window: "5m", above: "3s" } }),
    (i: number) => ({
      absent: { source: "otlp", service: [`core-svc-${i % SERVICES}`], window: "5m" },
    }),
    () => ({ store_budget: { above: "90%" } }),
    () => ({ log_drops: { window: "5m" } }),
  ];
  const rules = Array.from({ length: RULES }, (_, i) => ({
    name: `rule-${i}`,
    ...kinds[i % kinds.length](i),
    channels: ["hook"],
  }));
  return {
    server: { listen: "127.0.0.1:0" },
    store: {
      url: `sqlite:${tmp}/bench.db`,
      retention: "30d",
      max_size: "100GB",
      blob_dir: `${tmp}/blobs`,
    },
    probes,
    alerts: {
      evaluation_interval: "15s",
      channels: { hook: { type: "webhook", url: `http://127.0.0.1:${receiver.addr.port}/` } },
      rules,
    },
  };
}

const validated = validateConfig(rawConfig());
if (!validated.ok) throw new Error(JSON.stringify(validated.problems.slice(0, 5)));
const config = validated.config;

// 1. The store: schema, then runs written directly (as bench/ingest.ts does).
const store = createStore(config.store, logger, { background: false });
await store.start();
await store.stop();
{
  const db = new DatabaseSync(`${tmp}/bench.db`);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF");
  const sample = toRows(smallRun(1, { nodes: 10 }), now).run;
  const cols = Object.keys(sample);
  const ins = db.prepare(`INSERT INTO runs (${cols}) VALUES (${cols.map(() => "?")})`);
  const node = db.prepare(
    "INSERT INTO nodes (sid, idx, id, node_id, node_type, start_time, end_time, duration, ok, record) VALUES (?, 0, ?, 'llm::1', 'llm', ?, ?, 10, 0, ?)",
  );
  const span = 7 * 86_400_000;
  const errorLog = JSON.stringify({
    logs: [
      JSON.stringify({ level: "ERROR", message: "Timeout: LLM 调用超过 30s 未返回首帧", time: "" }),
    ],
  });
  const t0 = performance.now();
  db.exec("BEGIN");
  for (let i = 0; i < RUNS; i++) {
    const start = now - span + Math.floor((i / RUNS) * span);
    const failed = i % 37 === 0;
    const v = {
      ...sample,
      sid: `fill-${i}`,
      app_id: `app${i % 20}`,
      start_time: start,
      end_time: start + 500 + (i % 3000),
      duration: 500 + (i % 3000),
      is_error: failed ? 1 : 0,
      status_code: failed ? 20204 : 0,
      error_log: failed ? 1 : 0,
    };
    ins.run(...(Object.values(v) as never[]));
    if (failed) node.run(v.sid, `n-${i}`, start, start + 10, errorLog);
    if (i % 50_000 === 49_999) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  }
  db.exec("COMMIT");
  db.exec("ANALYZE");
  db.close();
  console.error(`filled ${RUNS} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
await store.start();

// 2. The rollups: 20 minutes of exports, one a minute, of SERIES series.
let clock = now - 20 * 60_000;
const rollups = new MetricRollups({ store, logger, maxSeries: SERIES * 2, now: () => clock });
// As in an agent up for longer than the rules' longest window (15m): it is all in memory.
rollups.keepRecent(15 * 60_000);
{
  const per = Math.ceil(SERIES / 2 / SERVICES);
  const metrics: ReceivedMetric[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const base = {
      service: `core-svc-${s}`,
      resource: { "service.name": `core-svc-${s}` },
      scope: { name: "bench", version: "" },
      description: "",
      unit: "",
    };
    const attrs = (k: number) => ({ func: `func_${k % 25}`, app_id: `app-${k}`, pid: 4000 + s });
    metrics.push({
      ...base,
      name: "server_request_total",
      kind: "sum",
      temporality: "cumulative",
      monotonic: true,
      points: Array.from({ length: per }, (_, k) => ({
        attributes: { ...attrs(k), ret: k % 10 === 0 ? 20204 : 0 },
        start_time_unix_nano: ns(clock),
        time_unix_nano: ns(clock),
        value: 0,
      })),
    } as ReceivedMetric);
    metrics.push({
      ...base,
      name: "server_request_time_microseconds",
      kind: "histogram",
      temporality: "cumulative",
      points: Array.from({ length: per }, (_, k) => ({
        attributes: attrs(k),
        start_time_unix_nano: ns(clock),
        time_unix_nano: ns(clock),
        count: 0,
        sum: 0,
        explicit_bounds: [...BOUNDS],
        bucket_counts: new Array(BOUNDS.length + 1).fill(0),
      })),
    } as ReceivedMetric);
  }
  for (let r = 0; r <= 20; r++) {
    clock = now - (20 - r) * 60_000;
    for (const m of metrics) {
      for (const p of m.points) {
        p.time_unix_nano = ns(clock);
        if (m.kind === "histogram") {
          const h = p as HistogramPoint;
          h.bucket_counts[r % h.bucket_counts.length] += 3;
          h.count += 3;
          h.sum = (h.sum ?? 0) + 3 * (BOUNDS[r % BOUNDS.length] ?? 20000);
        } else (p as SumPoint).value += 5;
      }
    }
    await rollups.take(metrics, clock);
  }
  await rollups.flush();
  clock = now;
}

// 3. The board: 50 probes with an hour of samples.
const board = new ProbeBoard();
board.sync(config.probes);
for (const p of config.probes) {
  for (let k = 0; k < 600; k++) {
    const at = now - 3_600_000 + k * 6000;
    board.record(p.name, {
      ok: k % 50 !== 0,
      code: k % 50 ? "ok" : "refused",
      phases: { total: 1 + (k % 20) },
      started_at: at,
    } as never);
  }
}

// 4. The engine, evaluated CYCLES times.
const engine = new AlertEngine({
  config,
  board,
  metrics: rollups,
  store,
  logDropped: () => 0,
  dir: `${tmp}/outbox`,
  logger,
});
await engine.start();
await engine.evaluate();
if (Deno.env.get("PROF")) {
  for (const w of [300_000, 900_000, 60_000]) {
    const t = performance.now();
    await rollups.services({ window: w, until: now });
    console.error(`services ${w}: ${(performance.now() - t).toFixed(1)} ms`);
  }
  const { CycleReads, evaluate } = await import("../src/alerts/conditions.ts");
  const byKind = new Map<string, number>();
  for (const rule of config.alerts.rules) {
    const reads = new CycleReads({
      now,
      probes: () => board.views(),
      services: (window) => rollups.services({ window, until: now }),
      db: () => store.backend.db,
      storeUsage: async () => ({ bytes: await store.size(), max: 1e11 }),
      logDrops: () => ({ then: 0, now: 0 }),
      externalUrl: "",
    });
    const t = performance.now();
    await evaluate(rule.condition, reads);
    const k = rule.condition.kind + ("source" in rule.condition ? ":" + rule.condition.source : "");
    byKind.set(k, (byKind.get(k) ?? 0) + performance.now() - t);
  }
  console.error(byKind);
}
const times: number[] = [];
for (let i = 0; i < CYCLES; i++) {
  const t = performance.now();
  await engine.evaluate();
  times.push(performance.now() - t);
}
const stats = engine.stats();
times.sort((a, b) => a - b);

// 5. Probe schedule lag: alone, then with the engine evaluating back to back.
async function lag(withAlerts: boolean) {
  const b = new ProbeBoard();
  const scheduler = new ProbeScheduler({ registry: PROBES, board: b, logger });
  scheduler.update(config.probes);
  let evaluating = withAlerts;
  let cycles = 0;
  const loop = (async () => {
    while (evaluating) {
      await engine.evaluate();
      cycles++;
      await new Promise((r) => setTimeout(r, EVERY));
    }
  })();
  await new Promise((r) => setTimeout(r, LAG_MS));
  evaluating = false;
  await loop;
  const l = scheduler.lag();
  await scheduler.stop();
  return { ...l, cycles };
}
const alone = await lag(false);
const busy = await lag(true);

await engine.stop();
await rollups.stop();
await store.stop();
await receiver.shutdown();
target.close();
await Deno.remove(tmp, { recursive: true });

const f = (v: number | null) => v === null ? "-" : v.toFixed(1);
console.log(
  `\n${RULES} rules, ${RUNS.toLocaleString("en")} runs, ${SERIES.toLocaleString("en")} series, ` +
    `${PROBE_COUNT} probes; ${navigator.hardwareConcurrency} cores; ` +
    `${stats.firing} firing, ${stats.pending} pending, ${stats.failing_rules.length} rules failing\n`,
);
console.log("| measure | p50 | p99 | max |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| one evaluation cycle, ms (${CYCLES} cycles) | ${f(percentile(times, 0.5))} | ${
    f(percentile(times, 0.99))
  } | ${f(times.at(-1) ?? null)} |`,
);
console.log(
  `| probe schedule lag alone (baseline), ms | ${f(alone.p50)} | ${f(alone.p99)} | ${
    f(alone.max)
  } |`,
);
console.log(
  `| probe schedule lag, engine evaluating every ${EVERY / 1000} s (${busy.cycles} cycles in ${
    LAG_MS / 1000
  } s), ms | ${f(busy.p50)} | ${f(busy.p99)} | ${f(busy.max)} |`,
);
console.log(
  `\nlag ratio (with / alone): p50 ${
    ((busy.p50 ?? 0) / Math.max(0.1, alone.p50 ?? 0)).toFixed(2)
  }, p99 ${((busy.p99 ?? 0) / Math.max(0.1, alone.p99 ?? 0)).toFixed(2)}`,
);
