import assert from "node:assert/strict";
import { Logger } from "../src/log/logger.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import { histogramQuantile, mergeBuckets } from "../src/rollups/quantile.ts";
import {
  counterIncrease,
  histogramIncrease,
  Series,
  seriesId,
  seriesKey,
} from "../src/rollups/series.ts";
import { parseMetricQuery, parseServicesQuery } from "../src/rollups/params.ts";
import type { ReceivedMetric, Temporality } from "../src/otlp/metric_points.ts";
import { which } from "./support/servers.ts";
import { Clock, memoryStore, ns, PlatformMeter, T0 } from "./fixtures/platform_metrics.ts";

const counter = () =>
  new Series("k", {
    service: "s",
    name: "c",
    kind: "counter",
    labels: {},
    unit: "",
    description: "",
  });

Deno.test("a cumulative counter becomes increases; a lower value or a new start time is a reset", async (t) => {
  const s1 = ns(T0);
  const s2 = ns(T0 + 500_000);
  // [case, start, time (s), value, increase]
  const steps: [string, string, number, number, number | undefined][] = [
    [
      "the first point of a series that began before it was watched is the baseline",
      s1,
      10,
      100,
      0,
    ],
    ["a higher value adds the difference", s1, 20, 110, 10],
    ["the same value adds nothing", s1, 30, 110, 0],
    ["a repeated point adds nothing", s1, 30, 110, 0],
    ["a point older than the last is ignored", s1, 25, 105, undefined],
    ["a lower value with the same start is a reset: all of it is new", s1, 40, 4, 4],
    ["after the reset, differences again", s1, 50, 9, 5],
    ["a new start time is a reset even with a higher value", s2, 600, 50, 50],
    ["a point from before the new start is ignored", s1, 610, 60, undefined],
    ["then differences from the new start", s2, 620, 57, 7],
  ];
  const s = counter();
  for (const [name, start, at, value, increase] of steps) {
    await t.step(name, () => {
      assert.equal(
        counterIncrease(s, "cumulative", start, T0 + at * 1000, value, false),
        increase,
      );
    });
  }
  await t.step("a series that began while watched counts its first point whole", () => {
    assert.equal(counterIncrease(counter(), "cumulative", s1, T0 + 1000, 7, true), 7);
  });
  await t.step("/metrics shows the last cumulative value as received", () => {
    assert.equal(s.total, 57);
  });
});

Deno.test("delta points are taken as they come, whatever their order; the exposed total adds them", () => {
  const s = counter();
  const increases = [5, 0, 3, 2].map((v, i) =>
    counterIncrease(s, "delta", ns(T0 + i * 1000), T0 + (i + 1) * 1000, v, false)
  );
  assert.deepEqual(increases, [5, 0, 3, 2]);
  assert.equal(counterIncrease(s, "delta", ns(T0), T0, -1, false), undefined);
  assert.equal(s.total, 10);
});

Deno.test("cumulative histograms become per-bucket increases; a lower bucket is a reset", () => {
  const bounds = [10, 100];
  const s = new Series("h", {
    service: "s",
    name: "h",
    kind: "histogram",
    labels: {},
    bounds,
    unit: "",
    description: "",
  });
  const into = { sum: 0, counts: [0, 0, 0] };
  const at = (sec: number) => T0 + sec * 1000;
  const take = (start: string, sec: number, counts: number[], sum: number, t: Temporality) => {
    const n = counts.reduce((a, b) => a + b, 0);
    const added = histogramIncrease(s, t, start, at(sec), n, sum, counts, false, into);
    return { added, counts: [...into.counts], sum: into.sum };
  };
  const start = ns(T0);
  assert.deepEqual(take(start, 1, [5, 1, 0], 60, "cumulative"), {
    added: 0,
    counts: [0, 0, 0],
    sum: 0,
  });
  assert.deepEqual(take(start, 2, [7, 3, 1], 400, "cumulative"), {
    added: 5,
    counts: [2, 2, 1],
    sum: 340,
  });
  // One bucket went down though the count went up: the process restarted.
  assert.deepEqual(take(start, 3, [1, 9, 2], 500, "cumulative"), {
    added: 12,
    counts: [1, 9, 2],
    sum: 500,
  });
  assert.deepEqual(take(start, 2.5, [1, 1, 1], 1, "cumulative").added, undefined);
  assert.deepEqual(s.totalCounts, [1, 9, 2]);
});

Deno.test("histogram quantiles interpolate within buckets as Prometheus' histogram_quantile", async (t) => {
  const h = { bounds: [0, 5, 10, 25, 50], counts: [0, 10, 30, 40, 10, 10] }; // 100 observations
  const cases: [string, number, number][] = [
    ["the median falls in (10, 25]: 10 + 15 x (50 - 40) / 40", 0.5, 13.75],
    ["q = 0.1 is the top of (0, 5]", 0.1, 5],
    ["q = 0.05 is halfway through (0, 5]", 0.05, 2.5],
    ["a rank in the +Inf bucket answers the highest finite bound", 0.95, 50],
    ["q = 0 is the lowest bucket's bound when it is not above 0", 0, 0],
  ];
  for (const [name, q, want] of cases) {
    await t.step(name, () => assert.equal(histogramQuantile(q, h), want));
  }
  await t.step("no observations: NaN; q outside [0, 1]: -Inf and +Inf", () => {
    assert.ok(Number.isNaN(histogramQuantile(0.5, { bounds: [1], counts: [0, 0] })));
    assert.equal(histogramQuantile(-0.1, h), -Infinity);
    assert.equal(histogramQuantile(1.1, h), Infinity);
  });
  await t.step("the first bucket starts at 0 when its bound is positive", () => {
    assert.equal(histogramQuantile(0.5, { bounds: [100, 200], counts: [10, 0, 0] }), 50);
  });
  await t.step(
    "histograms with the same bounds add up; different bounds meet at every bound",
    () => {
      assert.deepEqual(
        mergeBuckets([{ bounds: [1, 2], counts: [1, 2, 3] }, {
          bounds: [1, 2],
          counts: [1, 1, 1],
        }]),
        { bounds: [1, 2], counts: [2, 3, 4] },
      );
      assert.deepEqual(
        mergeBuckets([{ bounds: [1, 3], counts: [1, 2, 3] }, { bounds: [2], counts: [4, 5] }]),
        { bounds: [1, 2, 3], counts: [1, 4, 2, 8] },
      );
    },
  );
});

Deno.test("a series is service, name, labels (and bounds): key order and value types do not matter", () => {
  const a = seriesKey("svc", "m", { func: "chat", ret: 0, pid: 42 });
  const b = seriesKey("svc", "m", { pid: "42", ret: "0", func: "chat" });
  assert.equal(a, b);
  assert.notEqual(a, seriesKey("other", "m", { func: "chat", ret: 0, pid: 42 }));
  assert.notEqual(a, seriesKey("svc", "m", { func: "chat", ret: 0, pid: 42 }, [1]));
  assert.match(seriesId(a), /^[0-9a-f]{16}$/);
  assert.notEqual(seriesId(a), seriesId(seriesKey("svc", "m", { func: "chat", ret: 1, pid: 42 })));
});

Deno.test("past max_series new series are dropped and counted; memory stays bounded (100k series)", async () => {
  const clock = new Clock(T0);
  const sink = new MetricRollups({
    store: memoryStore(),
    logger: new Logger(),
    maxSeries: 50_000,
    now: clock.now,
  });
  const batch = (offset: number): ReceivedMetric[] => [{
    service: "core-workflow",
    resource: {},
    scope: { name: "", version: "" },
    name: "server_request_total",
    description: "",
    unit: "",
    kind: "sum",
    temporality: "delta",
    monotonic: true,
    points: Array.from({ length: 100_000 }, (_, i) => ({
      attributes: { func: `f${offset + i}`, ret: 0 },
      start_time_unix_nano: ns(T0),
      time_unix_nano: ns(T0 + 1000),
      value: 1,
    })),
  }];
  assert.deepEqual(await sink.take(batch(0), T0 + 1000), { taken: 50_000, dropped: 50_000 });
  const before = sink.stats();
  assert.equal(before.series, 50_000);
  assert.equal(before.pending_minutes, 50_000);
  // Another 100k new series: every point dropped, nothing more kept.
  assert.deepEqual(await sink.take(batch(100_000), T0 + 2000), { taken: 0, dropped: 100_000 });
  // Series already kept still take points.
  assert.deepEqual(await sink.take(batch(0), T0 + 3000), { taken: 50_000, dropped: 50_000 });
  const after = sink.stats();
  assert.equal(after.series, 50_000);
  assert.equal(after.pending_minutes, 50_000);
  assert.equal(after.points_dropped, 200_000);
  assert.equal(after.points_taken, 100_000);
});

Deno.test("at most max_pending minutes wait for the database; points past it are dropped", async () => {
  const clock = new Clock(T0);
  const sink = new MetricRollups({
    store: memoryStore(),
    logger: new Logger(),
    maxSeries: 10,
    maxPending: 3,
    now: clock.now,
  });
  // A process that started as it was first heard from: its first point counts whole.
  const meter = new PlatformMeter("svc", T0 + 1000);
  for (let minute = 0; minute < 5; minute++) {
    meter.count("chat", 0, 1);
    const at = T0 + minute * 60_000 + 1000;
    const r = await sink.take(meter.export(at), at);
    assert.deepEqual(r, minute < 3 ? { taken: 1, dropped: 0 } : { taken: 0, dropped: 1 });
  }
  assert.equal(sink.stats().pending_minutes, 3);
});

Deno.test("/metrics shows received series as received plus service, in the agent's own families", async (t) => {
  const clock = new Clock(T0 + 120_000);
  const sink = new MetricRollups({ store: memoryStore(), logger: new Logger(), now: clock.now });
  const meter = new PlatformMeter("core-workflow", T0);
  meter.count("chat", 0, 3).count("chat", 20204, 1).observe("chat", 8, 2).observe("chat", 300)
    .conc("chat", 2);
  await sink.take(meter.export(T0 + 60_000), T0 + 60_000);
  const own = [
    "# HELP server_request_total Entry requests.",
    "# TYPE server_request_total counter",
    'server_request_total{probe="nginx",ret="0"} 7',
    "# HELP astron_watch_store_up 1 while the store is up.",
    "# TYPE astron_watch_store_up gauge",
    "astron_watch_store_up 1",
    "# HELP server_conc In flight.",
    "# TYPE server_conc counter",
    'server_conc{probe="nginx"} 1',
    "",
  ].join("\n");
  const text = sink.exposition(own);
  const labels = (ret?: string) =>
    'service="core-workflow",app_id="app-1",dc="hf",func="chat",pid="4242",' +
    (ret === undefined ? "" : `ret="${ret}",`) +
    'server_host="10.0.0.5",server_name="core-workflow"';
  await t.step("a counter joins the agent's family of the same name, one TYPE line", () => {
    assert.equal(text.match(/^# TYPE server_request_total /gm)?.length, 1);
    const lines = text.split("\n");
    const own = lines.indexOf('server_request_total{probe="nginx",ret="0"} 7');
    assert.equal(lines[own + 1], `server_request_total{${labels("0")}} 3`);
    assert.equal(lines[own + 2], `server_request_total{${labels("20204")}} 1`);
  });
  await t.step("a histogram is exposed with cumulative buckets, sum and count", () => {
    assert.match(text, /^# TYPE server_request_time_microseconds histogram$/m);
    assert.ok(text.includes(`server_request_time_microseconds_bucket{${labels()},le="10"} 2\n`));
    assert.ok(text.includes(`server_request_time_microseconds_bucket{${labels()},le="500"} 3\n`));
    assert.ok(text.includes(`server_request_time_microseconds_bucket{${labels()},le="+Inf"} 3\n`));
    assert.ok(text.includes(`server_request_time_microseconds_sum{${labels()}} 316\n`));
    assert.ok(text.includes(`server_request_time_microseconds_count{${labels()}} 3\n`));
  });
  await t.step("a name the agent has as another type is left out with a comment", () => {
    assert.match(
      text,
      /^# server_conc received from the platform left out: a gauge, not a counter$/m,
    );
  });
  await t.step("series not heard from for 5 minutes leave /metrics", () => {
    clock.t = T0 + 60_000 + 301_000;
    assert.equal(sink.exposition(own), own);
  });
  const promtool = which("promtool");
  await t.step({
    name: "the merged exposition passes promtool check metrics",
    ignore: !promtool,
    fn: async () => {
      clock.t = T0 + 120_000;
      const child = new Deno.Command(promtool!, {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(sink.exposition(own)));
      await w.close();
      const out = await child.output();
      const said = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      // 0 clean, 3 lint only (promtool's one lint here: counters without _total in the agent's own)
      assert.ok(out.code === 0 || out.code === 3, said);
      assert.doesNotMatch(said, /error/i);
    },
  });
});

Deno.test("query parameters are checked at the edge, each mistake naming its parameter", async (t) => {
  const now = T0;
  const bad: [string, Record<string, string>, string][] = [
    ["a missing name", {}, "name: required (a metric name like server_request_total)"],
    ["an unknown parameter", { name: "x", foo: "1" }, 'unknown parameter "foo"'],
    ["a step that is not whole minutes", { name: "x", step: "90s" }, "step:"],
    ["too many steps", { name: "x", since: "30d", step: "1m" }, "more than 11000 steps"],
    ["a quantile over 1", { name: "x", q: "1.5" }, "q:"],
    ["a bad label", { name: "x", by: "func,a b" }, 'by: "a b" is not a label name'],
    ["since after until", { name: "x", since: "1h", until: "2h" }, "since: not before until"],
  ];
  for (const [name, params, message] of bad) {
    await t.step(`${name} is refused`, () => {
      const r = parseMetricQuery(params, now);
      assert.ok(!r.ok);
      assert.ok(r.error.includes(message), r.error);
    });
  }
  await t.step("defaults: the last hour by the minute, q 0.99, no grouping", () => {
    assert.deepEqual(parseMetricQuery({ name: "server_request_total" }, now), {
      ok: true,
      value: {
        name: "server_request_total",
        by: [],
        since: now - 3_600_000,
        until: now,
        step: 60_000,
        q: 0.99,
        service: undefined,
      },
    });
  });
  await t.step("a services window is a duration of at least a minute", () => {
    assert.deepEqual(parseServicesQuery({}, now), {
      ok: true,
      value: { window: 300_000, until: now },
    });
    const r = parseServicesQuery({ window: "10s" }, now);
    assert.ok(!r.ok && r.error.startsWith("window:"));
  });
});
