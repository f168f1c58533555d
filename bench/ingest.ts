/**
 * `deno run -A bench/ingest.ts [--runs 20000] [--batch 100] [--fill 1000000] [--pg URL]`
 *
 * 1. Ingest: runs of 10 nodes each, posted over HTTP (`POST /api/v1/traces`,
 *    `--batch` runs a request, 4 requests in flight) into a fresh store, next
 *    to the raw limit measured in the same run: the same rows inserted
 *    directly (SQLite: prepared statements in one transaction; PostgreSQL:
 *    multi-row inserts in one transaction). SQLite always; PostgreSQL with
 *    `--pg URL`, else a throwaway cluster when initdb is installed.
 * 2. Queries on SQLite filled with `--fill` runs over 7 days: p50/p99 of a
 *    filtered list page, of a day's usage stats by app_id, and of text search
 *    (`q=Timeout`, a word in 1 run of 37; a word in one run) and `log_level=error`.
 *
 * Prints a markdown table. Bodies are built before timing starts.
 */

import { parseArgs } from "node:util";
import postgres from "postgres";
import { Hono } from "hono";
import { DatabaseSync } from "node:sqlite";
import { traceRoutes } from "../src/api/routes/traces.ts";
import type { ApiEnv } from "../src/api/env.ts";
import { Logger } from "../src/log/logger.ts";
import { createStore, type Store } from "../src/store/store.ts";
import { toRows } from "../src/store/rows.ts";
import type { WorkflowRecord } from "../src/workflow/record.ts";
import { smallRun } from "../tests/fixtures/workflow.ts";
import { startCluster, stopCluster } from "../tests/support/postgres.ts";
import { which } from "../tests/support/servers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "20000" },
    batch: { type: "string", default: "100" },
    fill: { type: "string", default: "1000000" },
    pg: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const BATCH = Number(values.batch);
const FILL = Number(values.fill);
const IN_FLIGHT = 4;

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-" });
const rows: string[] = [];
const logger = new Logger();

function records(offset: number): WorkflowRecord[] {
  return Array.from({ length: RUNS }, (_, i) => smallRun(offset + i, { nodes: 10 }));
}

async function openStore(url: string, name: string): Promise<Store> {
  const store = createStore(
    {
      url,
      retention: 30 * 86_400_000,
      max_size: 1e12,
      blob_dir: `${tmp}/${name}-blobs`,
      inline_limit: 5 * 1024,
    },
    logger,
    { background: false },
  );
  await store.start();
  return store;
}

/** The HTTP client, as worker code: posts every body, `inFlight` at a time. */
const CLIENT = `
let job;
self.onmessage = async (e) => {
  if (e.data !== "go") { job = e.data; self.postMessage("ready"); return; }
  let next = 0;
  try {
    await Promise.all(Array.from({ length: job.inFlight }, async () => {
      while (next < job.bodies.length) {
        const body = job.bodies[next++];
        const res = await fetch(job.url, { method: "POST", body, headers: { "Content-Type": "application/json" } });
        if (res.status !== 202) throw new Error("HTTP " + res.status + ": " + await res.text());
        await res.body?.cancel();
      }
    }));
    self.postMessage({});
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
`;

/** Runs/s over HTTP into `store`. */
async function httpIngest(store: Store, recs: WorkflowRecord[]): Promise<number> {
  const app = new Hono<ApiEnv>().route(
    "/",
    traceRoutes({ store, maxDecodedBody: () => 64 * 1024 * 1024 }),
  );
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/api/v1/traces`;
  const bodies: string[] = [];
  for (let i = 0; i < recs.length; i += BATCH) {
    bodies.push(JSON.stringify(recs.slice(i, i + BATCH)));
  }
  // The client runs in a worker (its own thread), as the platform posts from its own process.
  const worker = new Worker(URL.createObjectURL(new Blob([CLIENT], { type: "text/javascript" })), {
    type: "module",
  });
  const ready = new Promise((resolve) => worker.onmessage = resolve);
  worker.postMessage({ url, bodies, inFlight: IN_FLIGHT });
  await ready;
  const t0 = performance.now();
  const done = new Promise<MessageEvent>((resolve) => worker.onmessage = resolve);
  worker.postMessage("go");
  const answer = (await done).data;
  worker.terminate();
  if (answer.error) throw new Error(answer.error);
  const s = (performance.now() - t0) / 1000;
  await server.shutdown();
  return recs.length / s;
}

function prepared(recs: WorkflowRecord[]) {
  const now = Date.now();
  return recs.map((r) => toRows(structuredClone(r), now));
}

/** Runs/s of the raw limit on SQLite: prepared statements, one transaction. */
function rawSqlite(path: string, recs: WorkflowRecord[]): number {
  const all = prepared(recs);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  const runCols = Object.keys(all[0].run);
  const nodeCols = Object.keys(all[0].nodes[0]);
  const insRun = db.prepare(`INSERT INTO runs (${runCols}) VALUES (${runCols.map(() => "?")})`);
  const insNode = db.prepare(`INSERT INTO nodes (${nodeCols}) VALUES (${nodeCols.map(() => "?")})`);
  const t0 = performance.now();
  db.exec("BEGIN");
  for (const r of all) {
    insRun.run(...(Object.values(r.run) as never[]));
    for (const n of r.nodes) insNode.run(...(Object.values(n) as never[]));
  }
  db.exec("COMMIT");
  const s = (performance.now() - t0) / 1000;
  db.close();
  return recs.length / s;
}

/** Runs/s of the raw limit on PostgreSQL: multi-row inserts in one transaction. */
async function rawPostgres(url: string, recs: WorkflowRecord[]): Promise<number> {
  const all = prepared(recs);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const t0 = performance.now();
  await sql.begin(async (tx) => {
    for (let i = 0; i < all.length; i += 1000) {
      const part = all.slice(i, i + 1000);
      await tx`INSERT INTO runs ${tx(part.map((r) => r.run))}`;
      const nodes = part.flatMap((r) => r.nodes);
      for (let j = 0; j < nodes.length; j += 4000) {
        await tx`INSERT INTO nodes ${tx(nodes.slice(j, j + 4000))}`;
      }
    }
  });
  const s = (performance.now() - t0) / 1000;
  await sql.end();
  return recs.length / s;
}

function row(what: string, value: string, note = "") {
  rows.push(`| ${what} | ${value} | ${note} |`);
  console.error(`${what}: ${value} ${note}`);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function ingestBench(
  name: string,
  url: string,
  raw: (recs: WorkflowRecord[]) => Promise<number>,
) {
  // Raw first into its own store (same schema, migrated), then HTTP into a fresh one.
  const rawStore = await openStore(url.replace("{db}", "raw"), `${name}-raw`);
  await rawStore.stop();
  const rawRate = await raw(records(0));
  const store = await openStore(url.replace("{db}", "http"), `${name}-http`);
  const httpRate = await httpIngest(store, records(RUNS));
  await store.stop();
  row(`${name}: raw limit (runs of 10 nodes/s)`, fmt(rawRate));
  row(
    `${name}: HTTP ingest, batches of ${BATCH} (runs/s)`,
    fmt(httpRate),
    `${Math.round((httpRate / rawRate) * 100)}% of raw`,
  );
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
}

async function queryBench() {
  const path = `${tmp}/fill.db`;
  const store = await openStore(`sqlite:${path}`, "fill");
  await store.stop();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF");
  const sample = toRows(smallRun(1, { nodes: 10 }), Date.now()).run;
  const cols = Object.keys(sample);
  const ins = db.prepare(`INSERT INTO runs (${cols}) VALUES (${cols.map(() => "?")})`);
  const search = db.prepare("INSERT INTO run_search (sid, text) VALUES (?, ?)");
  const end = Date.now();
  const span = 7 * 86_400_000;
  const t0 = performance.now();
  db.exec("BEGIN");
  for (let i = 0; i < FILL; i++) {
    const start = end - span + Math.floor((i / FILL) * span);
    const v = {
      ...sample,
      sid: `fill-${i}`,
      app_id: `app${i % 20}`,
      uid: `u${i % 5000}`,
      chat_id: `c${i % 50000}`,
      start_time: start,
      end_time: start + 500 + (i % 3000),
      duration: 500 + (i % 3000),
      is_error: i % 37 === 0 ? 1 : 0,
      status_code: i % 37 === 0 ? 20204 : 0,
      total_tokens: i % 900,
      error_log: i % 37 === 0 ? 1 : 0,
    };
    ins.run(...(Object.values(v) as never[]));
    search.run(
      v.sid,
      `${v.sid}\n帮我查询明天合肥的天气 ${i}\n晴，最高 25 度\n` +
        (i % 37 === 0 ? "ERROR Timeout: LLM 调用超过 30s 未返回首帧\n" : "INFO 执行完成\n") +
        (i === FILL >> 1 ? "zebracorn" : ""),
    );
    if (i % 50_000 === 49_999) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  }
  db.exec("COMMIT");
  db.exec("ANALYZE");
  db.close();
  const fillS = (performance.now() - t0) / 1000;
  const size = Deno.statSync(path).size;
  row(
    `SQLite filled with ${fmt(FILL)} runs over 7 days`,
    `${fmt(FILL / fillS)} runs/s`,
    `${(size / 1e9).toFixed(2)} GB file`,
  );
  const q = await openStore(`sqlite:${path}`, "fill");
  const list: number[] = [];
  const stats: number[] = [];
  const text: number[] = [];
  const rare: number[] = [];
  const errorLog: number[] = [];
  for (let i = 0; i < 50; i++) {
    let t = performance.now();
    await q.listRuns({
      app_id: `app${i % 20}`,
      status: "error",
      since: end - span + (i % 7) * 86_400_000,
      limit: 50,
    });
    list.push(performance.now() - t);
    t = performance.now();
    const day = end - ((i % 6) + 1) * 86_400_000;
    await q.usage({ by: "app_id", since: day, until: day + 86_400_000 });
    stats.push(performance.now() - t);
    t = performance.now();
    const found = await q.listRuns({ q: "Timeout", limit: 50 });
    text.push(performance.now() - t);
    if (found.runs.length !== 50) throw new Error(`q=Timeout found ${found.runs.length}`);
    t = performance.now();
    if ((await q.listRuns({ q: "zebracorn", limit: 50 })).runs.length !== 1) {
      throw new Error("q=zebracorn did not find its run");
    }
    rare.push(performance.now() - t);
    t = performance.now();
    await q.listRuns({ log_level: "error", app_id: `app${i % 20}`, limit: 50 });
    errorLog.push(performance.now() - t);
  }
  // Later pages through a cursor cost the same as the first.
  let page = await q.listRuns({ limit: 50 });
  for (let i = 0; i < 20 && page.next_cursor; i++) {
    const t = performance.now();
    page = await q.listRuns({
      limit: 50,
      cursor: (await import("../src/store/query.ts")).decodeCursor(page.next_cursor)!,
    });
    list.push(performance.now() - t);
  }
  await q.stop();
  row(
    "list page (app_id + status=error + since, 50 rows) p50 / p99",
    `${pct(list, 0.5).toFixed(1)} / ${pct(list, 0.99).toFixed(1)} ms`,
    "goal < 100 ms",
  );
  row(
    "a day's usage stats by app_id (~143k runs) p50 / p99",
    `${pct(stats, 0.5).toFixed(0)} / ${pct(stats, 0.99).toFixed(0)} ms`,
    "goal < 1 s",
  );
  row(
    `q=Timeout (in ${fmt(Math.ceil(FILL / 37))} runs' logs), first page p50 / p99`,
    `${pct(text, 0.5).toFixed(1)} / ${pct(text, 0.99).toFixed(1)} ms`,
    "goal < 200 ms",
  );
  row(
    "q=a word in one run's text p50 / p99",
    `${pct(rare, 0.5).toFixed(1)} / ${pct(rare, 0.99).toFixed(1)} ms`,
  );
  row(
    "log_level=error + app_id, first page p50 / p99",
    `${pct(errorLog, 0.5).toFixed(1)} / ${pct(errorLog, 0.99).toFixed(1)} ms`,
  );
}

try {
  await ingestBench(
    "SQLite",
    `sqlite:${tmp}/{db}.db`,
    (recs) => Promise.resolve(rawSqlite(`${tmp}/raw.db`, recs)),
  );
  let pgUrl = values.pg;
  let cluster: { bin: string; dir: string } | undefined;
  const initdb = which("initdb", [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
  ]);
  if (!pgUrl && initdb) {
    const dir = await Deno.makeTempDir({ prefix: "astron-watch-bench-pg-" });
    cluster = { bin: initdb.replace(/\/initdb$/, ""), dir };
    pgUrl = await startCluster(cluster.bin, cluster.dir);
  }
  if (pgUrl) {
    const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe("DROP DATABASE IF EXISTS aw_bench_raw");
    await admin.unsafe("DROP DATABASE IF EXISTS aw_bench_http");
    await admin.unsafe("CREATE DATABASE aw_bench_raw");
    await admin.unsafe("CREATE DATABASE aw_bench_http");
    await admin.end();
    const u = new URL(pgUrl);
    u.pathname = "/aw_bench_{db}";
    const tmpl = u.href.replace("%7Bdb%7D", "{db}");
    await ingestBench("PostgreSQL", tmpl, (recs) => rawPostgres(tmpl.replace("{db}", "raw"), recs));
    if (cluster) {
      await stopCluster(cluster.bin, cluster.dir);
      await Deno.remove(cluster.dir, { recursive: true });
    }
  } else {
    row("PostgreSQL", "skipped", "no --pg URL and no initdb");
  }
  if (FILL > 0) await queryBench();
  console.log(`| measure | value | note |\n| --- | --- | --- |\n${rows.join("\n")}`);
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
