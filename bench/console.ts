/**
 * `deno run -A bench/console.ts [--fill 1000000] [--probes 20] [--requests 200]`
 *
 * The console's server time with a big store: SQLite filled with `--fill`
 * runs over 7 days, `--probes` probes with 24 h of stored runs (one every
 * 10 s), and one run of 200 nodes. Each page (overview, runs list, run page)
 * is asked `--requests` times through the app as the listener calls it (a
 * loopback address, `Accept-Encoding: gzip`); p50/p99 of the time to the
 * last byte, and the bytes sent. The baseline, in the same run: the API's
 * JSON for the same data (`/status?format=json`, `/api/v1/traces`,
 * `/api/v1/traces/{sid}`), and the ratio page/API.
 *
 * Prints a markdown table.
 */

import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { createApp } from "../src/api/app.ts";
import { Logger } from "../src/log/logger.ts";
import { createStore } from "../src/store/store.ts";
import { toRows } from "../src/store/rows.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { parseConfigText } from "../src/config/load.ts";
import type { StoreConfig } from "../src/config/schema.ts";
import { smallRun } from "../tests/fixtures/workflow.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    fill: { type: "string", default: "1000000" },
    probes: { type: "string", default: "20" },
    requests: { type: "string", default: "200" },
  },
});
const FILL = Number(values.fill);
const PROBES = Number(values.probes);
const REQUESTS = Number(values.requests);

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-console-" });
const path = `${tmp}/store.db`;
const logger = new Logger();
const storeConfig: StoreConfig = {
  url: `sqlite:${path}`,
  retention: 30 * 86_400_000,
  max_size: 1e12,
  blob_dir: `${tmp}/blobs`,
  inline_limit: 5 * 1024,
};
{
  const s = createStore(storeConfig, logger);
  await s.start();
  await s.stop();
}

// Fill: runs over 7 days, and each probe's last 24 h.
const now = Date.now();
const db = new DatabaseSync(path);
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF");
const sample = toRows(smallRun(1, { nodes: 10 }), now).run;
const cols = Object.keys(sample);
const ins = db.prepare(`INSERT INTO runs (${cols}) VALUES (${cols.map(() => "?")})`);
const span = 7 * 86_400_000;
let t0 = performance.now();
db.exec("BEGIN");
for (let i = 0; i < FILL; i++) {
  const start = now - span + Math.floor((i / FILL) * span);
  const v = {
    ...sample,
    sid: `fill-${i}`,
    app_id: `app${i % 20}`,
    start_time: start,
    end_time: start + 500 + (i % 3000),
    duration: 500 + (i % 3000),
    is_error: i % 37 === 0 ? 1 : 0,
    status_code: i % 37 === 0 ? 20204 : 0,
    total_tokens: i % 900,
  };
  ins.run(...(Object.values(v) as never[]));
  if (i % 50_000 === 49_999) {
    db.exec("COMMIT");
    db.exec("BEGIN");
  }
}
db.exec("COMMIT");
const fillS = (performance.now() - t0) / 1000;
const probeIns = db.prepare(
  "INSERT INTO probe_results (probe, at, ok, duration_ms, reason, record) VALUES (?, ?, ?, ?, ?, ?)",
);
db.exec("BEGIN");
for (let p = 0; p < PROBES; p++) {
  for (let at = now - 86_400_000; at < now; at += 10_000) {
    const ok = (at / 10_000 + p) % 97 !== 0;
    const ms = 2 + ((at / 10_000) % 13);
    probeIns.run(
      `probe-${p}`,
      at,
      ok ? 1 : 0,
      ms,
      ok ? "" : "connect timeout",
      JSON.stringify({
        code: ok ? "ok" : "timeout",
        phases: { dns: 0.2, connect: 0.5, first_byte: ms - 0.5, total: ms },
      }),
    );
  }
}
db.exec("COMMIT");
db.exec("ANALYZE");
db.close();

const store = createStore(storeConfig, logger);
await store.start();
const big = smallRun(FILL + 1, { nodes: 200, start: now - 60_000 });
const ingested = await store.ingestRuns([big]);
if (ingested.accepted !== 1) {
  throw new Error(`the 200-node run was not taken: ${JSON.stringify(ingested)}`);
}
await store.flush();

const yaml = "probes:\n" +
  Array.from(
    { length: PROBES },
    (_, p) => `  - { name: probe-${p}, type: tcp, target: "127.0.0.1:${10_000 + p}" }`,
  ).join("\n");
const parsed = parseConfigText(yaml, {});
if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
const board = new ProbeBoard();
board.sync(parsed.config.probes);
for (const p of parsed.config.probes) {
  for (let i = 0; i < 360; i++) {
    const ms = 2 + (i % 13);
    board.record(p.name, {
      ok: true,
      code: "ok",
      started_at: now - (360 - i) * 10_000,
      phases: { connect: ms, total: ms },
    } as never);
  }
}

const app = createApp({
  version: "bench",
  startedAt: now,
  server: () => parsed.config.server,
  board,
  readiness: () => [],
  store,
  storeStats: () => store.stats(),
  scrape: () => Promise.resolve(""),
  logger,
});
const env = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 } };

async function measure(path: string): Promise<{ p50: number; p99: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  // One request to load the console's module and warm the caches (not counted).
  await (await app.request(path, { headers: { "Accept-Encoding": "gzip" } }, env)).arrayBuffer();
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const res = await app.request(path, {
      headers: { "Accept-Encoding": "gzip", Accept: "text/html" },
    }, env);
    const body = await res.arrayBuffer();
    times.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    bytes = body.byteLength;
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.max(0, Math.ceil(p * times.length) - 1)];
  return { p50: at(0.5), p99: at(0.99), bytes };
}

const ms = (v: number) => `${v.toFixed(1)} ms`;
const kb = (v: number) => `${(v / 1024).toFixed(1)} KB`;
const rows: string[] = [];
const pairs: [string, string, string, string][] = [
  ["overview (`/`)", "/", "`/status?format=json`", "/status?format=json"],
  ["runs list (`/runs`)", "/runs", "`/api/v1/traces`", "/api/v1/traces"],
  [
    "run page, 200 nodes (`/runs/{sid}`)",
    `/runs/${encodeURIComponent(big.sid)}`,
    "`/api/v1/traces/{sid}`",
    `/api/v1/traces/${encodeURIComponent(big.sid)}`,
  ],
  [
    "usage, last 24 h (`/usage`)",
    "/usage",
    "`/api/v1/stats/usage?by=app_id&since=24h`",
    "/api/v1/stats/usage?by=app_id&since=24h",
  ],
  [
    "runs list, `status=error&app_id=app3`",
    "/runs?status=error&app_id=app3",
    "the same on `/api/v1/traces`",
    "/api/v1/traces?status=error&app_id=app3",
  ],
];
for (const [name, page, baseName, base] of pairs) {
  const a = await measure(page);
  const b = await measure(base);
  rows.push(
    `| ${name} | ${ms(a.p50)} | ${ms(a.p99)} | ${kb(a.bytes)} | ${baseName}: ${ms(b.p50)} / ${
      ms(b.p99)
    } | ${(a.p99 / b.p99).toFixed(2)}x |`,
  );
}
t0 = performance.now();
await store.stop();

console.log(
  `Store: SQLite, ${FILL.toLocaleString("en")} runs over 7 days (filled at ${
    Math.round(FILL / fillS).toLocaleString("en")
  } runs/s), ${PROBES} probes with 24 h of runs every 10 s; ${REQUESTS} requests per page, gzip.\n`,
);
console.log(
  "| page | p50 | p99 | sent (gzip) | baseline: the API's JSON, p50 / p99 | p99 page/API |",
);
console.log("|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
await Deno.remove(tmp, { recursive: true });
