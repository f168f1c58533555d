import assert from "node:assert/strict";
import { Logger } from "../src/log/logger.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import { StoredMetricsReader } from "../src/rollups/read.ts";
import { StoreUnavailableError } from "../src/store/store.ts";
import { openTestStore, type TestStore } from "./fixtures/store.ts";
import type { StoreConfig } from "../src/config/schema.ts";
import {
  Clock,
  KNOWN_SERVICES,
  knownStream,
  PlatformMeter,
  T0,
} from "./fixtures/platform_metrics.ts";
import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { serverTest } from "./support/servers.ts";

const NOW = T0 + 360_000;
const WINDOW = { window: 300_000, until: NOW };

/** A fresh store for each case (SQLite: a new file; PostgreSQL: a new database). */
type Fresh = (config?: Partial<StoreConfig>) => Promise<TestStore>;

async function rollupSuite(t: Deno.TestContext, fresh: Fresh): Promise<void> {
  await t.step(
    "the known stream reads the same from memory, after flushes, and after a restart",
    async () => {
      await using ts = await fresh();
      const clock = new Clock(T0);
      const sink = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
      const stream = knownStream();
      for (const [i, { at, metrics }] of stream.entries()) {
        clock.t = at;
        await sink.take(metrics, at);
        // A flush mid-minute: the rest of that minute adds to what was written.
        if (i === 5) assert.equal((await sink.flush()).error, undefined);
      }
      clock.t = NOW;
      assert.deepEqual(await sink.services(WINDOW), KNOWN_SERVICES, "memory and database");
      const flushed = await sink.flush();
      assert.equal(flushed.error, undefined);
      assert.ok(flushed.minutes > 0);
      assert.deepEqual(await sink.services(WINDOW), KNOWN_SERVICES, "database");
      await sink.stop();
      const stored = new StoredMetricsReader(() => ts.store.backend.db);
      assert.deepEqual(await stored.services(WINDOW), KNOWN_SERVICES, "database, agent stopped");
      const again = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
      assert.deepEqual(await again.services(WINDOW), KNOWN_SERVICES, "after a restart");
      await again.stop();
    },
  );

  await t.step(
    "a query gives per-minute rates, quantiles and last values by the labels asked",
    async () => {
      await using ts = await fresh();
      const clock = new Clock(T0);
      const sink = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
      for (const { at, metrics } of knownStream()) {
        clock.t = at;
        await sink.take(metrics, at);
      }
      await sink.flush();
      const range = { since: T0 + 60_000, until: T0 + 360_000, step: 60_000, q: 0.5 };
      const rates = await sink.query({ name: "server_request_total", by: ["func"], ...range });
      assert.equal(rates.kind, "counter");
      assert.equal(rates.value, "rate_per_second");
      const perMinute = rates.series.map((s) => ({
        labels: s.labels,
        requests: s.points.map(([, v]) => Math.round(v! * 60)),
      }));
      // Exports at :30 and :00 of each minute from 1:30 to 6:00; 6:00 falls after the range.
      assert.deepEqual(perMinute, [
        { labels: { func: "chat" }, requests: [15, 30, 30, 30, 30] },
        { labels: { func: "upload" }, requests: [6, 12, 12, 12, 12] },
      ]);
      const p50 = await sink.query({
        name: "server_request_time_microseconds",
        by: ["service"],
        ...range,
      });
      assert.equal(p50.value, "quantile");
      assert.deepEqual(p50.series, [{
        labels: { service: "core-workflow" },
        points: [1, 2, 3, 4, 5].map((m) => [T0 + m * 60_000, 9.375]),
      }]);
      const conc = await sink.query({ name: "server_conc", by: [], ...range });
      assert.deepEqual(conc.series[0].points.map(([, v]) => v), [4, 4, 4, 4, 4]);
      const none = await sink.query({ name: "no_such_metric", by: [], ...range });
      assert.deepEqual(none.series, []);
      await sink.stop();
    },
  );

  await t.step(
    "after a restart, the first point of a running process is a baseline, not counted again",
    async () => {
      await using ts = await fresh();
      const clock = new Clock(T0);
      const meter = new PlatformMeter("core-agent", T0 - 86_400_000);
      const feed = async (sink: MetricRollups, from: number, to: number) => {
        for (let at = from; at <= to; at += 30_000) {
          meter.count("run", 0, 10);
          clock.t = at;
          await sink.take(meter.export(at), at);
        }
      };
      const first = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
      await feed(first, T0, T0 + 150_000); // a baseline, then 5 x 10
      await first.stop();
      const second = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
      await feed(second, T0 + 180_000, T0 + 270_000); // a baseline (its 10 are lost), then 3 x 10
      // The process restarts: counting from 0 again, all of it new.
      meter.restart(T0 + 290_000);
      await feed(second, T0 + 300_000, T0 + 330_000); // 2 x 10
      clock.t = T0 + 360_000;
      const r = await second.services({ window: 360_000, until: T0 + 360_000 });
      assert.equal(r.services[0].requests, 100);
      await second.stop();
    },
  );

  await t.step("a flush that fails keeps its minutes; the next one writes them once", async () => {
    await using ts = await fresh();
    let down = true;
    const store = {
      config: ts.store.config,
      get backend() {
        if (down) throw new StoreUnavailableError("the database is unreachable (test)");
        return ts.store.backend;
      },
    };
    const clock = new Clock(T0);
    const sink = new MetricRollups({ store, logger: new Logger(), now: clock.now });
    for (const { at, metrics } of knownStream()) {
      clock.t = at;
      await sink.take(metrics, at);
      if (at === T0 + 150_000) {
        assert.match((await sink.flush()).error ?? "", /unreachable/);
        assert.match(sink.readiness() ?? "", /^cannot write metric rollups/);
      }
    }
    assert.ok((await sink.flush()).error);
    assert.ok(sink.stats().pending_minutes > 0);
    down = false;
    assert.equal((await sink.flush()).error, undefined);
    assert.equal(sink.readiness(), undefined);
    assert.equal(sink.stats().pending_minutes, 0);
    clock.t = NOW;
    const stored = new StoredMetricsReader(() => ts.store.backend.db);
    assert.deepEqual(await stored.services(WINDOW), KNOWN_SERVICES);
    await sink.stop();
  });

  await t.step("minutes older than store.retention go, and series left with none", async () => {
    await using ts = await fresh({ retention: 3_600_000 });
    const clock = new Clock(T0);
    const sink = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
    // Both processes start as they are first heard from: their first points count whole.
    const old = new PlatformMeter("old-service", T0 + 1000);
    const current = new PlatformMeter("core-workflow", T0 + 2 * 3_600_000 + 1000);
    await sink.take(old.count("a", 0, 5).export(T0 + 1000), T0 + 1000);
    await sink.flush();
    clock.t = T0 + 2 * 3_600_000 + 1000;
    await sink.take(current.count("b", 0, 7).export(clock.t), clock.t);
    await sink.flush();
    const removed = await sink.enforceRetention();
    assert.deepEqual(removed, { rollups: 1, series: 1 });
    const r = await sink.services({ window: 8 * 3_600_000, until: clock.t });
    assert.deepEqual(r.services.map((s) => [s.service, s.requests]), [["core-workflow", 7]]);
    await sink.stop();
  });
}

Deno.test("metric rollups on SQLite", async (t) => {
  await rollupSuite(t, (config) => openTestStore(undefined, config));
});

serverTest("metric rollups on PostgreSQL", locatePostgres(), async (source, t) => {
  await rollupSuite(t, async (config) => {
    const db = await testDatabase(source);
    const ts = await openTestStore(db.url, config);
    return {
      ...ts,
      async [Symbol.asyncDispose]() {
        await ts[Symbol.asyncDispose]();
        await db[Symbol.asyncDispose]();
      },
    };
  });
});
