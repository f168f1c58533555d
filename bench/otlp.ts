/**
 * `deno run -A bench/otlp.ts [--span-requests 200] [--spans 500] [--point-requests 200]
 *   [--points 2000] [--pg URL]`
 *
 * The OTLP intake end to end, as the platform's services send: a running
 * agent (`main.ts run`, spawned as the tests spawn it) takes spans and
 * metric points over OTLP/gRPC, once with its store on SQLite and once on
 * PostgreSQL (`--pg URL`, a server URL; a database is created in it and
 * dropped at the end; else a throwaway cluster when initdb is installed).
 *
 * - Spans: `--span-requests` ExportTraceServiceRequests of `--spans` spans
 *   (traces of 50 spans; the spans of every other trace carry a `sid`),
 *   4 in flight, one connection per sender. Spans/s from the first send
 *   until `/status?format=json` counts them all stored (`store.records.stored`;
 *   the row count is checked afterwards).
 * - Metric points: 4 services (4 senders, one connection each), each with
 *   `--points` series (half `server_request_total` counters, half
 *   `server_request_time_microseconds` histograms in 15 bounds, cumulative);
 *   a request is one service's export of all its series, so a series'
 *   points arrive in order. Points/s from the first send until
 *   `/status?format=json` counts them all received by `otlp_receiver`.
 * - The raw limit in the same run, in this process, from the same requests
 *   decoded before the clock starts: the spans through
 *   `createStore(...).ingestSpans` (one call per request, all queued at once,
 *   `background: false`) into a fresh database; the points through
 *   `MetricRollups.take`, one request after another.
 * - The agent's peak RSS (`VmHWM` in /proc/<pid>/status) over its life
 *   (start-up, spans, points).
 * - Then the senders close their connections (as a service does when it
 *   restarts): whether the agent survives that. Under Deno 2.9.6 it often
 *   aborts there (nghttp2 `find_stream_on_goaway_func`, as in
 *   denoland/deno#36788), with no oversized message involved.
 *
 * Prints a markdown table. Requests are encoded before timing starts.
 */

import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import * as grpc from "@grpc/grpc-js";
import postgres from "postgres";
import root from "@opentelemetry/otlp-transformer/generated/root";
import { Logger } from "../src/log/logger.ts";
import { createStore, type Store } from "../src/store/store.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import { CODECS } from "../src/otlp/signals.ts";
import type { SpanRecord } from "../src/otlp/traces.ts";
import type { ReceivedMetric } from "../src/otlp/metric_points.ts";
import { type AgentProcess, spawnAgent } from "../tests/support/agent.ts";
import { PATHS } from "../tests/support/otlp.ts";
import { startCluster, stopCluster } from "../tests/support/postgres.ts";
import { which } from "../tests/support/servers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "span-requests": { type: "string", default: "200" },
    spans: { type: "string", default: "500" },
    "point-requests": { type: "string", default: "200" },
    points: { type: "string", default: "2000" },
    pg: { type: "string" },
  },
});
const SPAN_REQUESTS = Number(values["span-requests"]);
const SPANS = Number(values.spans);
const POINT_REQUESTS = Number(values["point-requests"]);
const POINTS = Number(values.points);
const IN_FLIGHT = 4;
const MAX_MESSAGE = 4 * 1024 * 1024; // otlp_receiver.max_message's default: never send more
const GOALS = { spans: 20_000, points: 200_000, rssMB: 250 };

// deno-lint-ignore no-explicit-any
const proto = (root as any).opentelemetry.proto;
const TraceRequest = proto.collector.trace.v1.ExportTraceServiceRequest;
const MetricsRequest = proto.collector.metrics.v1.ExportMetricsServiceRequest;

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-otlp-" });
const logger = new Logger();
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

// ---------------------------------------------------------------- requests

type Attr = { key: string; value: Record<string, unknown> };
const s = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const n = (key: string, v: number): Attr => ({ key, value: { intValue: String(v) } });

function hex(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let i = bytes - 1; i >= 0 && v > 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0] = 0xa0; // never all zero
  return out;
}

/** Request `r`: `SPANS` spans in traces of 50, from one of 4 services; every other trace has a sid. */
function spanRequest(r: number, baseMs: number): Uint8Array {
  const service = r % IN_FLIGHT;
  const spans = [];
  for (let i = 0; i < SPANS; i++) {
    const trace = r * Math.ceil(SPANS / 50) + Math.floor(i / 50);
    const inTrace = i % 50;
    const start = BigInt(baseMs + r * 10 + inTrace) * 1_000_000n;
    const error = inTrace === 49 && trace % 13 === 0;
    const attributes = [
      s("app_id", `app-${trace % 7}`),
      s("uid", `u${trace % 5000}`),
      s("chat_id", `c${trace % 50000}`),
      s("node_id", `node-${inTrace}`),
      s("node_type", inTrace % 5 === 0 ? "llm" : "plugin"),
      n("total_tokens", (trace * 31 + inTrace) % 900),
    ];
    if (trace % 2 === 0) attributes.unshift(s("sid", `spf${String(trace).padStart(8, "0")}@hf1`));
    spans.push({
      traceId: hex(trace + 1, 16),
      spanId: hex(r * SPANS + i + 1, 8),
      parentSpanId: inTrace === 0 ? undefined : hex(r * SPANS + i - inTrace + 1, 8),
      name: inTrace === 0 ? "workflow.run" : `node.${inTrace % 5 === 0 ? "llm" : "plugin"}`,
      kind: inTrace === 0 ? 2 : 1,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: (start + 120_000_000n).toString(),
      attributes,
      events: error
        ? [{
          name: "exception",
          timeUnixNano: (start + 100_000_000n).toString(),
          attributes: [s("exception.message", "Timeout: LLM did not answer within 30s")],
        }]
        : [],
      status: error ? { code: 2, message: "Timeout" } : { code: 1 },
    });
  }
  return TraceRequest.encode(TraceRequest.fromObject({
    resourceSpans: [{
      resource: {
        attributes: [
          s("service.name", `core-svc-${service}`),
          s("host.name", `10.0.0.${service}`),
          n("process.pid", 4000 + service),
        ],
      },
      scopeSpans: [{ scope: { name: "service_trace", version: "1.0.0" }, spans }],
    }],
  })).finish();
}

const BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** Export `round` of service `svc`: all its `POINTS` series, cumulative since `startMs`. */
function metricsRequest(svc: number, round: number, startMs: number, atMs: number): Uint8Array {
  const labels = (i: number) => [
    s("dc", "hf"),
    s("server_host", `10.0.0.${svc}`),
    s("server_name", `core-svc-${svc}`),
    s("app_id", `app-${i % 7}`),
    s("func", `func_${Math.floor(i / 7) % 150}`),
    n("pid", 4000 + svc),
  ];
  const half = POINTS >> 1;
  const start = (BigInt(startMs) * 1_000_000n).toString();
  const time = (BigInt(atMs) * 1_000_000n).toString();
  const counters = Array.from({ length: half }, (_, i) => ({
    attributes: [...labels(i), n("ret", i % 4 === 0 ? 20204 : 0)],
    startTimeUnixNano: start,
    timeUnixNano: time,
    asInt: String((round + 1) * (3 + (i % 5))),
  }));
  const histograms = Array.from({ length: POINTS - half }, (_, i) => {
    const counts = new Array(BOUNDS.length + 1).fill(0);
    for (let k = 0; k <= round; k++) counts[(i + k) % counts.length] += 2;
    return {
      attributes: labels(i),
      startTimeUnixNano: start,
      timeUnixNano: time,
      count: String(2 * (round + 1)),
      sum: 2 * (round + 1) * 137.5,
      bucketCounts: counts.map(String),
      explicitBounds: BOUNDS,
    };
  });
  return MetricsRequest.encode(MetricsRequest.fromObject({
    resourceMetrics: [{
      resource: {
        attributes: [
          s("service.name", `core-svc-${svc}`),
          s("host.name", `10.0.0.${svc}`),
          n("process.pid", 4000 + svc),
        ],
      },
      scopeMetrics: [{
        scope: { name: "service_metric", version: "1.0.0" },
        metrics: [
          {
            name: "server_request_total",
            sum: { dataPoints: counters, aggregationTemporality: 2, isMonotonic: true },
          },
          {
            name: "server_request_time_microseconds",
            histogram: { dataPoints: histograms, aggregationTemporality: 2 },
          },
        ],
      }],
    }],
  })).finish();
}

function checkSize(bodies: Uint8Array[], what: string): void {
  const max = Math.max(...bodies.map((b) => b.length));
  if (max >= MAX_MESSAGE) throw new Error(`a ${what} request is ${max} bytes, over max_message`);
}

/** `lanes[k]`: the requests sender `k` sends, one after another. */
interface Load {
  lanes: Uint8Array[][];
  items: number;
  bytes: number;
}

function spanLoad(): Load {
  const base = Date.now() - 3_600_000;
  const lanes: Uint8Array[][] = Array.from({ length: IN_FLIGHT }, () => []);
  let bytes = 0;
  for (let r = 0; r < SPAN_REQUESTS; r++) {
    const body = spanRequest(r, base);
    bytes += body.length;
    lanes[r % IN_FLIGHT].push(body);
  }
  checkSize(lanes.flat(), "span");
  return { lanes, items: SPAN_REQUESTS * SPANS, bytes };
}

function pointLoad(): Load {
  const rounds = Math.ceil(POINT_REQUESTS / IN_FLIGHT);
  // The last export is now; one every 3 s before it (the platform's interval).
  const end = Date.now();
  const startMs = end - rounds * 3000 - 60_000;
  const lanes: Uint8Array[][] = Array.from({ length: IN_FLIGHT }, () => []);
  let bytes = 0;
  for (let r = 0; r < POINT_REQUESTS; r++) {
    const svc = r % IN_FLIGHT;
    const round = Math.floor(r / IN_FLIGHT);
    const body = metricsRequest(svc, round, startMs, end - (rounds - round) * 3000);
    bytes += body.length;
    lanes[svc].push(body);
  }
  checkSize(lanes.flat(), "metrics");
  return { lanes, items: POINT_REQUESTS * POINTS, bytes };
}

/** The requests in the order they are sent (round-robin over the lanes). */
const inOrder = (load: Load) =>
  load.lanes[0].flatMap((_, i) => load.lanes.map((l) => l[i]).filter((b) => b !== undefined));

// ---------------------------------------------------------------- raw limits

async function openStore(url: string, name: string): Promise<Store> {
  const store = createStore(
    {
      url,
      retention: 7 * 86_400_000,
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

/** Spans/s through `ingestSpans`, the requests decoded before the clock starts. */
async function rawSpans(url: string, load: Load): Promise<number> {
  const batches: SpanRecord[][] = inOrder(load).map((b) => {
    const d = CODECS.traces.decodeProtobuf(b, Date.now());
    if (d.signal === "metrics" || d.rejected) throw new Error("span request not decoded whole");
    return d.spans;
  });
  const store = await openStore(url, "raw-spans");
  const t0 = performance.now();
  const results = await Promise.all(batches.map((b) => store.ingestSpans(b)));
  const s = (performance.now() - t0) / 1000;
  await store.stop();
  const stored = results.reduce((a, r) => a + r.stored, 0);
  if (stored !== load.items) throw new Error(`raw: ${stored} of ${load.items} spans stored`);
  return load.items / s;
}

/** Points/s through `MetricRollups.take`, the requests decoded before the clock starts. */
async function rawPoints(url: string, load: Load): Promise<{ rate: number; decodeRate: number }> {
  const bodies = inOrder(load);
  const t0 = performance.now();
  const requests: ReceivedMetric[][] = bodies.map((b) => {
    const d = CODECS.metrics.decodeProtobuf(b, Date.now());
    if (d.signal !== "metrics" || d.rejected) throw new Error("metrics request not decoded whole");
    return d.metrics;
  });
  const decodeRate = load.items / ((performance.now() - t0) / 1000);
  const store = await openStore(url, "raw-points");
  const sink = new MetricRollups({ store, logger });
  let taken = 0;
  const t1 = performance.now();
  for (const metrics of requests) taken += (await sink.take(metrics, Date.now())).taken;
  const s = (performance.now() - t1) / 1000;
  await store.stop();
  if (taken !== load.items) throw new Error(`raw: ${taken} of ${load.items} points taken`);
  return { rate: load.items / s, decodeRate };
}

// ---------------------------------------------------------------- the agent

interface Running {
  agent: AgentProcess;
  grpcPort: number;
  dir: string;
  died?: string;
}

async function startAgent(storeUrl: string): Promise<Running> {
  const dir = await Deno.makeTempDir({ dir: tmp, prefix: "agent-" });
  const config = `${dir}/astron-watch.yaml`;
  await Deno.writeTextFile(
    config,
    `server:
  listen: 127.0.0.1:0
log:
  stderr: always
store:
  url: ${storeUrl}
otlp_receiver:
  grpc: true
  grpc_listen: 127.0.0.1:0
  http_listen: 127.0.0.1:0
probes: []
`,
  );
  const agent = await spawnAgent({ config });
  const line = await agent.waitForLine((l) => l.msg === "otlp receiver listening", 15_000);
  const running: Running = { agent, dir, grpcPort: Number(String(line.grpc).split(":").pop()) };
  agent.status.then((st) => {
    if (!running.died) running.died = `exited with code ${st.code} (signal ${st.signal ?? "none"})`;
  });
  return running;
}

function vm(pid: number, key: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(
    Deno.readTextFileSync(`/proc/${pid}/status`),
  );
  return m ? (Number(m[1]) * 1024) / 1e6 : NaN; // kB (KiB) to MB
}

/** One connection per sender (per platform service), kept open across both loads. */
function connect(port: number): grpc.Client[] {
  return Array.from(
    { length: IN_FLIGHT },
    () =>
      new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        "grpc.max_send_message_length": -1,
      }),
  );
}

/** Send every lane's requests one after another on its own connection, the lanes at once. */
async function send(clients: grpc.Client[], path: string, load: Load): Promise<void> {
  await Promise.all(load.lanes.map(async (lane, k) => {
    for (const body of lane) {
      await new Promise<void>((resolve, reject) => {
        clients[k].makeUnaryRequest(
          path,
          (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
          (b: Uint8Array) => new Uint8Array(b),
          body,
          new grpc.Metadata(),
          { deadline: Date.now() + 120_000 },
          (err) => err ? reject(new Error(`gRPC ${err.code}: ${err.details}`)) : resolve(),
        );
      });
    }
  }));
}

// deno-lint-ignore no-explicit-any
type Status = any;

async function status(run: Running): Promise<Status> {
  const res = await run.agent.fetch("/status?format=json");
  if (!res.ok) throw new Error(`/status: HTTP ${res.status}`);
  return await res.json();
}

const received = (st: Status, signal: string) =>
  (st.otlp_receiver?.counts ?? []).find(
    (c: Status) => c.signal === signal && c.transport === "grpc",
  ) ?? { received: 0, rejected: 0, requests: {} };

/** Send `load`, then wait until `done(status)`; returns items/s from the first send. */
async function endToEnd(
  run: Running,
  clients: grpc.Client[],
  path: string,
  load: Load,
  done: (st: Status) => boolean,
): Promise<number> {
  const t0 = performance.now();
  try {
    await send(clients, path, load);
  } catch (err) {
    throw new Error(`sending: ${(err as Error).message}`);
  }
  // The agent's own view of its memory as the last request is answered (one
  // `/status`: it sums the services, and sampling it while sending slowed the
  // agent it measures).
  const m = (await status(run)).memory;
  for (const k of Object.keys(peakMemory) as (keyof typeof peakMemory)[]) {
    peakMemory[k] = Math.max(peakMemory[k], m[`${k}_bytes`] / 1e6);
  }
  for (;;) {
    if (done(await status(run))) break;
    if (performance.now() - t0 > 300_000) throw new Error("the agent did not take everything");
    await new Promise((r) => setTimeout(r, 20));
  }
  return load.items / ((performance.now() - t0) / 1000);
}

/** The larger of `/status`'s memory figures at the end of sending spans and points, MB (reset per backend). */
const peakMemory = { rss: 0, heap_total: 0, heap_used: 0, external: 0 };

// ---------------------------------------------------------------- the run

interface Result {
  backend: string;
  spans: number;
  rawSpans: number;
  points: number;
  rawPoints: number;
  decodePoints: number;
  rssMB: number;
  rssAfterSpansMB: number;
  idleMB: number;
  /** The larger of `/status`'s memory figures at the end of each phase's sending, MB. */
  memory: typeof peakMemory;
  /** How the agent fared when the senders closed their connections. */
  onClose: string;
}

async function bench(
  backend: string,
  rawUrl: string,
  agentUrl: string,
  countSpans: () => Promise<number>,
  spans: Load,
  points: Load,
): Promise<Result> {
  console.error(`${backend}: raw limits ...`);
  const rawSpanRate = await rawSpans(rawUrl, spans);
  const raw = await rawPoints(rawUrl, points);
  console.error(`${backend}: agent ...`);
  const run = await startAgent(agentUrl);
  const pid = run.agent.child.pid;
  const clients = connect(run.grpcPort);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idleMB = vm(pid, "VmRSS");
    for (const k of Object.keys(peakMemory) as (keyof typeof peakMemory)[]) peakMemory[k] = 0;
    const spanRate = await endToEnd(
      run,
      clients,
      PATHS.traces,
      spans,
      (st) => st.store.records.stored >= spans.items,
    );
    const rssAfterSpansMB = vm(pid, "VmHWM");
    const pointRate = await endToEnd(
      run,
      clients,
      PATHS.metrics,
      points,
      (st) => received(st, "metrics").received >= points.items,
    );
    const st = await status(run);
    const rssMB = vm(pid, "VmHWM");
    const t = received(st, "traces");
    const m = received(st, "metrics");
    if (t.rejected || m.rejected || st.store.records.refused || st.store.records.spooled) {
      throw new Error(`items refused or spooled: ${JSON.stringify({ t, m, store: st.store })}`);
    }
    if (run.died) throw new Error(`the agent ${run.died}`);
    // The senders go away (as services do on restart): does the agent survive it?
    for (const c of clients) c.close();
    await new Promise((r) => setTimeout(r, 2000));
    let onClose = "survived";
    if (run.died) {
      await run.agent.exit();
      const why = run.agent.lines.find((l) => /Assertion|panicked|Segmentation/.test(l.raw))?.raw;
      onClose = `the agent ${run.died} when the senders closed` +
        (why
          ? /find_stream_on_goaway_func/.test(why)
            ? " (nghttp2 assertion in find_stream_on_goaway_func)"
            : ` (${why.slice(0, 120).replaceAll("`", "'")})`
          : " (no message on stderr)");
    }
    if (!run.died) {
      run.agent.kill("SIGTERM");
      const { code } = await run.agent.exit();
      if (code !== 0) throw new Error(`the agent exited with ${code} on SIGTERM`);
    }
    const rows = await countSpans();
    if (rows !== spans.items) throw new Error(`${rows} span rows, expected ${spans.items}`);
    const r: Result = {
      backend,
      spans: spanRate,
      rawSpans: rawSpanRate,
      points: pointRate,
      rawPoints: raw.rate,
      decodePoints: raw.decodeRate,
      rssMB,
      rssAfterSpansMB,
      idleMB,
      memory: { ...peakMemory },
      onClose,
    };
    console.error(JSON.stringify(r));
    return r;
  } catch (err) {
    await Promise.race([run.agent.status, new Promise((r) => setTimeout(r, 1000))]);
    throw new Error(
      `${backend}: ${(err as Error).message}; the agent ${run.died ?? "is still running"}; ` +
        `its last lines:\n${run.agent.text().split("\n").slice(-30).join("\n")}`,
    );
  } finally {
    for (const c of clients) c.close();
    await run.agent.close();
  }
}

function goalCell(value: number, goal: number, higher: boolean, unit: string): string {
  const met = higher ? value >= goal : value < goal;
  if (met) return "met";
  const by = higher ? (goal - value) / goal : (value - goal) / goal;
  return `**not met**: ${higher ? "short" : "over"} by ${fmt(Math.abs(goal - value))} ${unit} (${
    Math.round(by * 100)
  }%)`;
}

const results: Result[] = [];
const loadStart = loadavg();
let pgCleanup = async () => {};
try {
  console.error("encoding requests ...");
  const spans = spanLoad();
  const points = pointLoad();

  const sqliteAgentDb = `${tmp}/agent-sqlite.db`;
  results.push(
    await bench(
      "SQLite",
      `sqlite:${tmp}/raw.db`,
      `sqlite:${sqliteAgentDb}`,
      () => {
        const db = new DatabaseSync(sqliteAgentDb, { readOnly: true });
        const { c } = db.prepare("SELECT count(*) AS c FROM spans").get() as { c: number };
        db.close();
        return Promise.resolve(Number(c));
      },
      spans,
      points,
    ),
  );

  let pgUrl = values.pg;
  const initdb = which("initdb", [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
  ]);
  if (!pgUrl && initdb) {
    const dir = await Deno.makeTempDir({ prefix: "astron-watch-bench-pg-" });
    const bin = initdb.replace(/\/initdb$/, "");
    pgUrl = await startCluster(bin, dir);
    pgCleanup = async () => {
      await stopCluster(bin, dir);
      await Deno.remove(dir, { recursive: true });
    };
  }
  if (pgUrl) {
    const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
    const names = { raw: `aw_bench_otlp_raw_${tag}`, agent: `aw_bench_otlp_agent_${tag}` };
    const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
    const dbUrl = (name: string) => {
      const u = new URL(pgUrl!);
      u.pathname = `/${name}`;
      return u.href;
    };
    const server = pgUrl;
    const before = pgCleanup;
    pgCleanup = async () => {
      const sql = postgres(server, { max: 1, onnotice: () => {} });
      for (const name of Object.values(names)) {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
      await sql.end();
      await before();
    };
    for (const name of Object.values(names)) await admin.unsafe(`CREATE DATABASE ${name}`);
    await admin.end();
    results.push(
      await bench(
        "PostgreSQL",
        dbUrl(names.raw),
        dbUrl(names.agent),
        async () => {
          const sql = postgres(dbUrl(names.agent), { max: 1, onnotice: () => {} });
          const [{ c }] = await sql`SELECT count(*)::int AS c FROM spans`;
          await sql.end();
          return c;
        },
        spans,
        points,
      ),
    );
  } else {
    console.error("PostgreSQL skipped: no --pg URL and no initdb");
  }

  const version = Deno.version.deno;
  console.log(
    `\n${fmt(spans.items)} spans in ${SPAN_REQUESTS} requests of ${SPANS} (${
      fmt(spans.bytes / SPAN_REQUESTS / 1024)
    } KiB each); ${fmt(points.items)} points in ${POINT_REQUESTS} requests of ${POINTS} (${
      fmt(points.bytes / POINT_REQUESTS / 1024)
    } KiB each) over ${fmt(IN_FLIGHT * POINTS)} series; ${IN_FLIGHT} in flight over OTLP/gRPC; ` +
      `Deno ${version}, ${navigator.hardwareConcurrency} cores; load average ${loadStart} at start, ${loadavg()} at end\n`,
  );
  console.log(
    "| store | measure | end to end (agent, OTLP/gRPC) | raw limit, same run (in-process) | end to end / raw | goal | goal met? |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.backend} | spans/s | ${fmt(r.spans)} | ${fmt(r.rawSpans)} (\`ingestSpans\`) | ${
        Math.round((r.spans / r.rawSpans) * 100)
      }% | >= ${fmt(GOALS.spans)} | ${goalCell(r.spans, GOALS.spans, true, "spans/s")} |`,
    );
    console.log(
      `| ${r.backend} | metric points/s | ${fmt(r.points)} | ${
        fmt(r.rawPoints)
      } (\`MetricRollups.take\`; decoding alone ${fmt(r.decodePoints)}) | ${
        Math.round((r.points / r.rawPoints) * 100)
      }% | >= ${fmt(GOALS.points)} | ${goalCell(r.points, GOALS.points, true, "points/s")} |`,
    );
    console.log(
      `| ${r.backend} | agent peak RSS (VmHWM) | ${fmt(r.rssMB)} MB (${
        fmt(r.rssAfterSpansMB)
      } MB after spans; ${fmt(r.idleMB)} MB idle; as sending ended, at most: JS heap ${
        fmt(r.memory.heap_total)
      } MB (${fmt(r.memory.heap_used)} used), outside it ${
        fmt(r.memory.external)
      } MB) | | | < ${GOALS.rssMB} MB | ${goalCell(r.rssMB, GOALS.rssMB, false, "MB")} |`,
    );
    console.log(
      `| ${r.backend} | the 4 senders then close their connections | ${r.onClose} | | | survives | ${
        r.onClose === "survived" ? "yes" : "**no**"
      } |`,
    );
  }
} finally {
  await pgCleanup().catch((err) => console.error(`PostgreSQL cleanup failed: ${err}`));
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
