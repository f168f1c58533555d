/**
 * `deno run -A bench/otlp_rollups.ts [--series 1000] [--rounds 500]`
 *
 * Points per second into the metric rollups (`MetricRollups.take`), for
 * points shaped as the platform's SDK exports them (cumulative; the
 * default labels `dc`, `server_host`, `server_name`, `app_id`, `func`,
 * `pid`, plus `ret` on counters; histograms in the SDK's 15 default
 * buckets), beside two raw baselines measured in the same run: a plain
 * `Map` increment over precomputed keys, and the same with the key built
 * from the labels by `JSON.stringify`. Each round is one export of every
 * series; only `take` is timed (the next export's values are written in
 * between). Then one flush of those series' minutes into SQLite.
 *
 * Prints a markdown table.
 */

import { parseArgs } from "node:util";
import { Logger } from "../src/log/logger.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import type { HistogramPoint, ReceivedMetric, SumPoint } from "../src/otlp/metric_points.ts";
import { createStore } from "../src/store/store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    series: { type: "string", default: "1000" },
    rounds: { type: "string", default: "500" },
  },
});
const SERIES = Number(values.series);
const ROUNDS = Number(values.rounds);
const BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const T0 = Date.parse("2026-03-01T00:00:00Z");
const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();

const services = 10;
const perService = Math.ceil(SERIES / services);

function labels(i: number) {
  const s = i % services;
  return {
    dc: "hf",
    server_host: `10.0.0.${s}`,
    server_name: `core-svc-${s}`,
    app_id: `app-${i % 7}`,
    func: `func_${Math.floor(i / services) % 25}`,
    pid: 4000 + s,
  };
}

/** One export per service: counters and histograms for its share of the series. */
function exports(): { counters: ReceivedMetric[]; histograms: ReceivedMetric[] } {
  const counters: ReceivedMetric[] = [];
  const histograms: ReceivedMetric[] = [];
  for (let s = 0; s < services; s++) {
    const base = {
      service: `core-svc-${s}`,
      resource: { "service.name": `core-svc-${s}` },
      scope: { name: "bench", version: "" },
      description: "",
      unit: "",
    };
    const ids = Array.from({ length: perService }, (_, k) => s + k * services);
    counters.push({
      ...base,
      name: "server_request_total",
      kind: "sum",
      temporality: "cumulative",
      monotonic: true,
      points: ids.map((i) => ({
        attributes: { ...labels(i), ret: Math.floor(i / 250) % 4 === 0 ? 20204 : 0 },
        start_time_unix_nano: ns(T0),
        time_unix_nano: ns(T0),
        value: 0,
      })),
    });
    histograms.push({
      ...base,
      name: "server_request_time_microseconds",
      kind: "histogram",
      temporality: "cumulative",
      points: ids.map((i) => ({
        attributes: labels(i),
        start_time_unix_nano: ns(T0),
        time_unix_nano: ns(T0),
        count: 0,
        sum: 0,
        explicit_bounds: [...BOUNDS],
        bucket_counts: new Array(BOUNDS.length + 1).fill(0),
      })),
    });
  }
  return { counters, histograms };
}

/** Move every point of `metrics` to `at` with a little more counted (untimed). */
function advance(metrics: ReceivedMetric[], at: number, round: number): void {
  const t = ns(at);
  for (const m of metrics) {
    if (m.kind === "histogram") {
      for (const p of m.points as HistogramPoint[]) {
        p.time_unix_nano = t;
        const b = round % p.bucket_counts.length;
        p.bucket_counts[b] += 2;
        p.count += 2;
        p.sum = (p.sum ?? 0) + 2 * (BOUNDS[b] ?? 20000);
      }
    } else {
      for (const p of m.points as SumPoint[]) {
        p.time_unix_nano = t;
        p.value += 3;
      }
    }
  }
}

const points = (metrics: ReceivedMetric[]) => metrics.reduce((n, m) => n + m.points.length, 0);

async function timeTake(
  sink: MetricRollups,
  metrics: ReceivedMetric[],
  start: number,
): Promise<number> {
  let elapsed = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const at = start + r * 3000; // the platform exports every 3 s
    advance(metrics, at, r);
    const t = performance.now();
    await sink.take(metrics, at);
    elapsed += performance.now() - t;
  }
  return elapsed;
}

const rows: string[][] = [];
const row = (name: string, n: number, ms: number) =>
  rows.push([
    name,
    n.toLocaleString("en"),
    (ms / 1000).toFixed(3),
    Math.round(n / (ms / 1000)).toLocaleString("en"),
  ]);

// Raw baseline 1: a Map increment over precomputed keys.
{
  const keys = Array.from({ length: SERIES }, (_, i) => `k${i}`);
  const map = new Map<string, number>();
  const t = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of keys) map.set(k, (map.get(k) ?? 0) + 1);
  }
  row("baseline: Map increment, precomputed keys", SERIES * ROUNDS, performance.now() - t);
}
// Raw baseline 2: the same with the key built from the labels.
{
  const { counters } = exports();
  const map = new Map<string, number>();
  const t = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const m of counters) {
      for (const p of m.points as SumPoint[]) {
        const k = m.service + m.name + JSON.stringify(p.attributes);
        map.set(k, (map.get(k) ?? 0) + p.value);
      }
    }
  }
  row("baseline: Map increment, key = JSON of labels", SERIES * ROUNDS, performance.now() - t);
}

const dir = await Deno.makeTempDir({ prefix: "astron-watch-bench-rollups-" });
const store = createStore(
  {
    url: `sqlite:${dir}/bench.db`,
    retention: 7 * 86_400_000,
    max_size: 1e12,
    blob_dir: `${dir}/blobs`,
    inline_limit: 5120,
  },
  new Logger(),
  { background: false },
);
await store.start();
let now = T0;
const sink = new MetricRollups({ store, logger: new Logger(), now: () => now });
const { counters, histograms } = exports();
row("rollups: cumulative counters", points(counters) * ROUNDS, await timeTake(sink, counters, T0));
row(
  "rollups: cumulative histograms (15 bounds)",
  points(histograms) * ROUNDS,
  await timeTake(sink, histograms, T0),
);
const mixed = [...counters, ...histograms];
row(
  "rollups: one export of both",
  points(mixed) * ROUNDS,
  await timeTake(sink, mixed, T0 + ROUNDS * 3000),
);
now = T0 + 2 * ROUNDS * 3000;
const pending = sink.stats().pending_minutes;
const t = performance.now();
const flushed = await sink.flush();
const flushMs = performance.now() - t;
if (flushed.error) throw new Error(flushed.error);
await sink.stop();
await store.stop();
await Deno.remove(dir, { recursive: true });

console.log(
  `${SERIES} series (x2 kinds), ${ROUNDS} exports each; ${navigator.hardwareConcurrency} cores\n`,
);
console.log("| case | points | seconds | points/s |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
console.log(
  `\nflush to SQLite: ${pending.toLocaleString("en")} series-minutes in ${
    flushMs.toFixed(0)
  } ms (one transaction)`,
);
