/**
 * bench/access_tail: the agent (`deno run -A main.ts run`) following a live
 * nginx `main` access log written at a steady `--rate` lines/s, and the probe
 * scheduler's lag meanwhile, beside the same agent with the writer idle (the
 * baseline, measured first in the same run).
 *
 *   deno run -A bench/access_tail.ts [--rate 50000] [--seconds 30] [--baseline-seconds 30]
 *     [--probes 20] [--probe-interval 100] [--poll-interval 500ms] [--batch-ms 10]
 *     [--cpu-prof] [--keep]
 *
 * One agent, one config: `access_logs: [{ name: nginx, path: TMP/access.log,
 * format: main, poll_interval }]`, `--probes` tcp probes every
 * `--probe-interval` ms (jitter one interval) against a loopback listener in
 * this process, SQLite store, OTLP receiver off. After `/readyz` and a 5 s
 * warm-up:
 *
 * 1. baseline: `--baseline-seconds` with the writer idle (the log is there,
 *    empty);
 * 2. tailing: this process appends `--rate` lines/s for `--seconds`, every
 *    `--batch-ms` as many lines as are due by then (the lines of
 *    `mainLines` from tests/fixtures/nginx_log.ts, the platform's routes and
 *    statuses, stamped with the current time); then it waits (up to 120 s)
 *    until the agent has counted every line.
 *
 * Every second it reads `GET /status?format=json`: `access_logs[0].lines`
 * (lines counted, durable: stored with their file position) and
 * `scheduler.lag_ms` (p50/p99/max of how late probe runs started, over the
 * scheduler's last 4096 runs: with 20 probes every 100 ms, the last ~20 s).
 * The lag is reported, for each phase, over the window ending at the
 * phase's end (for tailing: when the writer stops) and over the first window
 * that lies wholly inside the phase, so no start-up or baseline run is in a
 * tailing row. Lag values are whole ms (`Date.now()`). CPU % is utime+stime from
 * /proc/PID/stat over the phase's wall time (100 % = one core); peak RSS is
 * VmHWM from /proc/PID/status (the spawned pid is the deno process running
 * the agent). At the end `nginx_http_requests_total` in `/metrics` is summed
 * as a cross-check.
 *
 * Prints a markdown table and whether the goal held: the agent keeps up (it
 * has counted every line written within 5 s of the writer stopping) and the
 * probe schedule lag p99 stays under 20 ms while it tails.
 *
 * `--cpu-prof` runs the agent with Deno's `--cpu-prof` and prints, for the
 * tailing phase and the catch-up, the functions with the most self time, and
 * the stretches of busy samples (no idle one between: what a due probe waits
 * behind) with the functions on the stack in those of 20 ms or more. The
 * profiler slows the agent: its lag numbers are not the run's numbers.
 * `--keep` leaves the temp dir (config, log, store, agent stderr, profile).
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { mainLines, timeLocal } from "../tests/fixtures/nginx_log.ts";
import { percentile } from "../src/stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "50000" },
    seconds: { type: "string", default: "30" },
    "baseline-seconds": { type: "string", default: "30" },
    probes: { type: "string", default: "20" },
    "probe-interval": { type: "string", default: "100" },
    "poll-interval": { type: "string", default: "500ms" },
    "batch-ms": { type: "string", default: "10" },
    "cpu-prof": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BASELINE_SECONDS = Number(values["baseline-seconds"]);
const PROBE_COUNT = Number(values.probes);
const PROBE_INTERVAL = Number(values["probe-interval"]);
const POLL_INTERVAL = values["poll-interval"];
const BATCH_MS = Number(values["batch-ms"]);
const WARMUP_MS = 5000;
const CATCH_UP_LIMIT_MS = 120_000;
/** Caught up this soon after the writer stops: it keeps up. */
const KEEP_UP_MS = 5000;
const LAG_GOAL_MS = 20;
/** The scheduler's lag is over its last 4096 runs (`src/probe/scheduler.ts`). */
const LAG_RUNS = 4096;
const LAG_WINDOW_MS = (LAG_RUNS / (PROBE_COUNT * (1000 / PROBE_INTERVAL))) * 1000;
const ROOT = new URL("../", import.meta.url).pathname;
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** VmHWM and VmRSS of a process, MB. */
function memory(pid: number): { hwm: number; rss: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { hwm: kb("VmHWM") / 1024, rss: kb("VmRSS") / 1024 };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-access-tail-" });
const log = join(tmp, "access.log");
await Deno.writeTextFile(log, "");

// The lines: a pool of `mainLines`, each split around its `$time_local`, to be stamped when written.
const POOL = 100_000;
const pool: { head: string; tail: string }[] = [];
for (const line of mainLines(POOL, 7)) {
  const open = line.indexOf("[");
  const close = line.indexOf("]", open);
  pool.push({ head: line.slice(0, open + 1), tail: line.slice(close) + "\n" });
}

// A loopback target for the tcp probes.
const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const c of target) c.close();
})().catch(() => {});
const targetPort = target.addr.port;

const port = freePort();
const api = `http://127.0.0.1:${port}`;
let yaml = `server: { listen: "127.0.0.1:${port}" }
log: { dir: "${tmp}/logs", level: warn, stderr: never }
store: { url: "sqlite:${tmp}/astron-watch.db", blob_dir: "${tmp}/blobs" }
otlp_receiver: { enable: false }
access_logs:
  - { name: nginx, path: "${log}", format: main, poll_interval: ${POLL_INTERVAL} }
probes:
`;
for (let i = 0; i < PROBE_COUNT; i++) {
  yaml +=
    `  - { name: tcp-${i}, type: tcp, target: "127.0.0.1:${targetPort}", interval: ${PROBE_INTERVAL}ms, timeout: ${
      Math.max(10, PROBE_INTERVAL - 10)
    }ms, jitter: ${PROBE_INTERVAL}ms }\n`;
}
const configPath = join(tmp, "astron-watch.yaml");
await Deno.writeTextFile(configPath, yaml);

const profDir = join(tmp, "prof");
const agent = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--quiet",
    ...(values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
    join(ROOT, "main.ts"),
    "run",
    "--config",
    configPath,
  ],
  cwd: tmp,
  stdin: "null",
  stdout: "null",
  stderr: "piped",
}).spawn();
// Its stderr (config problems, a crash; the log itself goes to TMP/logs), kept as agent.err.
const agentErr = new Response(agent.stderr).text().then(
  (text) => Deno.writeTextFile(join(tmp, "agent.err"), text).then(() => text),
  () => "",
);
let exited = false;
agent.status.then(() => exited = true);

async function failWith(message: string): Promise<never> {
  if (!exited) agent.kill("SIGKILL");
  await agent.status;
  const out = await agentErr;
  console.error(`${message}\nagent stderr (${tmp}/agent.err):\n${out.slice(-4000)}`);
  Deno.exit(1);
}

interface Status {
  scheduler: {
    lag_ms?: { p50: number | null; p99: number | null; max: number | null; runs: number };
  };
  access_logs?: {
    lines: number;
    requests: number;
    unparsed: number;
    cut: number;
    binary: number;
    files: { behind: number }[];
    problem?: string;
  }[];
}

async function status(): Promise<Status> {
  try {
    const r = await fetch(`${api}/status?format=json`);
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    return await r.json();
  } catch (e) {
    return await failWith(`GET /status: ${(e as Error).message}`);
  }
}

// Up and ready.
{
  const until = Date.now() + 60_000;
  for (;;) {
    if (exited) await failWith("the agent exited before it was ready");
    try {
      const r = await fetch(`${api}/readyz`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) await failWith("the agent was not ready in 60 s");
    await sleep(100);
  }
}
console.error(
  `agent ${agent.pid} ready; ${PROBE_COUNT} tcp probes every ${PROBE_INTERVAL} ms (lag window ` +
    `~${(LAG_WINDOW_MS / 1000).toFixed(1)} s); warm-up ${WARMUP_MS / 1000} s`,
);
await sleep(WARMUP_MS);

interface Sample {
  /** ms since the phase started. */
  at: number;
  written: number;
  counted: number;
  behindBytes: number;
  lag: { p50: number | null; p99: number | null; max: number | null; runs: number };
}

/** Reads `/status` every second until `stop()`; the samples of the phase. */
function sampler(started: number, written: () => number) {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    let next = started + 1000;
    while (running) {
      await sleep(Math.max(0, next - performance.now()));
      next += 1000;
      if (!running) break;
      const w = written();
      const s = await status();
      const a = s.access_logs?.[0];
      samples.push({
        at: performance.now() - started,
        written: w,
        counted: a?.lines ?? 0,
        behindBytes: a?.files.reduce((n, f) => n + f.behind, 0) ?? 0,
        lag: s.scheduler.lag_ms ?? { p50: null, p99: null, max: null, runs: 0 },
      });
      if (samples.length % 5 === 0) {
        const x = samples.at(-1)!;
        console.error(
          `  ${(x.at / 1000).toFixed(0).padStart(3)} s  written ${
            x.written.toLocaleString("en").padStart(10)
          }  counted ${x.counted.toLocaleString("en").padStart(10)}  lag p99 ${x.lag.p99} ms`,
        );
      }
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

interface Phase {
  seconds: number;
  cpuPct: number;
  writerCpuPct: number;
  hwm: number;
  rss: number;
  samples: Sample[];
  /** Lag over the window ending at the phase's end. */
  lagEnd: Sample["lag"];
  /** Lag over the first window wholly inside the phase (if the phase is that long). */
  lagFirst?: Sample["lag"];
}

function phaseOf(
  t0: number,
  cpu0: number,
  self0: number,
  samples: Sample[],
  end: Sample["lag"],
): Phase {
  const seconds = (performance.now() - t0) / 1000;
  const m = memory(agent.pid);
  const first = samples.find((s) => s.at >= LAG_WINDOW_MS + 500 && s.lag.runs >= LAG_RUNS);
  return {
    seconds,
    cpuPct: ((cpuSeconds(agent.pid) - cpu0) / seconds) * 100,
    writerCpuPct: ((cpuSeconds("self") - self0) / seconds) * 100,
    hwm: m.hwm,
    rss: m.rss,
    samples,
    lagEnd: end,
    lagFirst: first?.lag,
  };
}

// 1. Baseline: the writer idle.
console.error(`baseline: writer idle for ${BASELINE_SECONDS} s`);
let baseline: Phase;
{
  const t0 = performance.now();
  const cpu0 = cpuSeconds(agent.pid);
  const self0 = cpuSeconds("self");
  const s = sampler(t0, () => 0);
  await sleep(BASELINE_SECONDS * 1000);
  await s.stop();
  const end = (await status()).scheduler.lag_ms!;
  baseline = phaseOf(t0, cpu0, self0, s.samples, end);
}

// 2. Tailing: the writer at RATE lines/s, then until the agent has counted every line.
console.error(`tailing: ${RATE.toLocaleString("en")} lines/s for ${SECONDS} s`);
const TOTAL = Math.round(RATE * SECONDS);
let written = 0;
let writeSeconds = 0;
let maxBatchGapMs = 0;
let tailing: Phase;
let tailStartedAt = 0;
let caughtUpMs: number | undefined;
let countedAtStop = 0;
let final: Status;
{
  const t0 = performance.now();
  tailStartedAt = t0;
  const cpu0 = cpuSeconds(agent.pid);
  const self0 = cpuSeconds("self");
  const s = sampler(t0, () => written);
  using file = await Deno.open(log, { append: true });
  const encoder = new TextEncoder();
  let k = 0;
  let last = t0;
  while (written < TOTAL) {
    const now = performance.now();
    maxBatchGapMs = Math.max(maxBatchGapMs, now - last);
    last = now;
    const due = Math.min(TOTAL, Math.floor((RATE * (now - t0)) / 1000));
    if (due > written) {
      const time = timeLocal(Date.now());
      let text = "";
      for (let i = written; i < due; i++) {
        const p = pool[k];
        text += p.head + time + p.tail;
        if (++k === pool.length) k = 0;
      }
      const bytes = encoder.encode(text);
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      written = due;
    }
    await sleep(BATCH_MS);
  }
  const stopped = performance.now();
  writeSeconds = (stopped - t0) / 1000;
  const sampling = s.stop();
  const atStop = await status();
  countedAtStop = atStop.access_logs?.[0]?.lines ?? 0;
  const endLag = atStop.scheduler.lag_ms!;
  // Until every line is counted.
  for (;;) {
    final = await status();
    const counted = final.access_logs?.[0]?.lines ?? 0;
    if (counted >= TOTAL) {
      caughtUpMs = performance.now() - stopped;
      break;
    }
    if (performance.now() - stopped > CATCH_UP_LIMIT_MS || exited) break;
    await sleep(50);
  }
  await sampling;
  tailing = phaseOf(t0, cpu0, self0, s.samples, endLag);
}

// The metrics, as a cross-check of the count.
const metricsText = await (await fetch(`${api}/metrics`)).text();
let metricRequests = 0;
for (const m of metricsText.matchAll(/^nginx_http_requests_total\{[^}]*\} (\S+)/gm)) {
  metricRequests += Number(m[1]);
}

agent.kill("SIGTERM");
const exit = await agent.status;
const exitedAt = performance.now();
await agentErr;
target.close();

// The profile, over the tailing phase only: self time by function, and the longest busy stretches.
let profileTop = "";
if (values["cpu-prof"]) {
  const files = [...Deno.readDirSync(profDir)].filter((e) => e.name.endsWith(".cpuprofile"));
  profileTop = files.length
    ? profileReport(join(profDir, files[0].name), (exitedAt - tailStartedAt) * 1000)
    : "no .cpuprofile was written";
}

/**
 * Self time by function over the last `lastUs` µs of a `.cpuprofile` (it
 * ends when the agent exits), and the stretches of samples without an idle
 * one between them (a task, or tasks back to back, that timers wait behind).
 */
function profileReport(file: string, lastUs: number): string {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
  }
  const prof = JSON.parse(Deno.readTextFileSync(file)) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
    endTime: number;
    startTime: number;
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Line numbers are the emitted JavaScript's: the file names the function well enough.
  const label = (n: Node) =>
    `${n.callFrame.functionName || "(anonymous)"}${
      n.callFrame.url
        ? ` ${
          n.callFrame.url.replace(/^.*\/registry\.npmjs\.org\//, "npm:")
            .replace(/^file:.*\/src\//, "src/")
        }`
        : ""
    }`;
  const self = new Map<string, number>();
  const inStretch = new Map<string, number>();
  const stretches: number[] = [];
  let busy = 0;
  let stretch: { us: number; ids: number[] } | undefined;
  const endStretch = () => {
    if (!stretch) return;
    stretches.push(stretch.us);
    if (stretch.us >= 20_000) {
      for (const id of stretch.ids) {
        const seen = new Set<string>();
        for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
          const l = label(byId.get(x)!);
          if (!seen.has(l)) inStretch.set(l, (inStretch.get(l) ?? 0) + 1);
          seen.add(l);
        }
      }
      inStretch.set("", (inStretch.get("") ?? 0) + stretch.ids.length);
    }
    stretch = undefined;
  };
  const from = prof.endTime - lastUs;
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    t += prof.timeDeltas[i] ?? 0;
    if (t < from) return;
    const dt = prof.timeDeltas[i + 1] ?? 0;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") return endStretch();
    busy += dt;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    stretch ??= { us: 0, ids: [] };
    stretch.us += dt;
    stretch.ids.push(id);
  });
  endStretch();
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 20);
  const long = (ms: number) => stretches.filter((us) => us >= ms * 1000).length;
  const inLong = inStretch.get("") ?? 0;
  const onStack = [...inStretch].filter(([k]) => k && /^[^ ]+ (src\/|npm:)/.test(k))
    .sort((a, b) => b[1] - a[1]).slice(0, 12);
  return `agent CPU profile (${file}), the tailing phase and the catch-up: ${
    (busy / 1e6).toFixed(1)
  } s busy in ${(lastUs / 1e6).toFixed(1)} s\n\n| function (self time) | s | % of busy |\n` +
    "| --- | --- | --- |\n" +
    top.map(([k, us]) =>
      `| \`${k}\` | ${(us / 1e6).toFixed(2)} | ${((us / busy) * 100).toFixed(1)} |`
    ).join("\n") +
    `\n\nbusy stretches (no idle sample between): ${stretches.length}; >= 10 ms: ${
      long(10)
    }, >= 20 ms: ${long(20)}, >= 50 ms: ${long(50)}; longest ${
      ((Math.max(0, ...stretches)) / 1000).toFixed(1)
    } ms\n\n| on the stack in stretches >= 20 ms | % of their samples |\n| --- | --- |\n` +
    onStack.map(([k, n]) => `| \`${k}\` | ${((n / inLong) * 100).toFixed(0)} |`).join("\n");
}

const f1 = (v: number | null | undefined) => v === null || v === undefined ? "-" : v.toFixed(1);
const n0 = (v: number) => Math.round(v).toLocaleString("en");
const lagCell = (l: Sample["lag"] | undefined) =>
  l ? `${f1(l.p50)} / ${f1(l.p99)} / ${f1(l.max)}` : "-";

const a = final!.access_logs?.[0];
const counted = a?.lines ?? 0;
// How far behind the writer the agent's count was, sampled each second while writing.
const behind = tailing.samples.filter((s) => s.at <= writeSeconds * 1000)
  .map((s) => s.written - s.counted).sort((x, y) => x - y);
const keptUp = counted === TOTAL && caughtUpMs !== undefined && caughtUpMs <= KEEP_UP_MS;
const worstP99 = Math.max(tailing.lagEnd.p99 ?? Infinity, tailing.lagFirst?.p99 ?? 0);
const lagOk = worstP99 < LAG_GOAL_MS;

console.log(
  `\n${navigator.hardwareConcurrency} cores; ${PROBE_COUNT} tcp probes every ${PROBE_INTERVAL} ms; ` +
    `poll_interval ${POLL_INTERVAL}; writer batches every ${BATCH_MS} ms; probe lag over the ` +
    `scheduler's last ${LAG_RUNS} runs (~${(LAG_WINDOW_MS / 1000).toFixed(1)} s); ` +
    `agent exit ${exit.code}\n`,
);
console.log(`| measure | baseline (writer idle) | tailing ${n0(RATE)} lines/s |`);
console.log("| --- | --- | --- |");
console.log(
  `| phase, s | ${baseline.seconds.toFixed(1)} | ${writeSeconds.toFixed(1)} writing + ${
    caughtUpMs === undefined ? "not caught up" : (caughtUpMs / 1000).toFixed(2)
  } to catch up |`,
);
console.log(
  `| lines written (rate achieved) | 0 | ${n0(written)} (${n0(written / writeSeconds)}/s) |`,
);
console.log(
  `| lines counted by the agent: at writer stop / at end | - | ${n0(countedAtStop)} / ${
    n0(counted)
  }${a?.unparsed ? `, ${n0(a.unparsed)} unparsed` : ""} |`,
);
console.log(`| nginx_http_requests_total (sum, /metrics) | - | ${n0(metricRequests)} |`);
console.log(
  `| agent behind the writer while writing, lines p50 / max (1 s samples) | - | ${
    n0(percentile(behind, 0.5) ?? 0)
  } / ${n0(behind.at(-1) ?? 0)} (${((behind.at(-1) ?? 0) / RATE).toFixed(2)} s of writing) |`,
);
console.log(
  `| caught up after the writer stopped, s | - | ${
    caughtUpMs === undefined
      ? `no: ${n0(TOTAL - counted)} lines left after ${CATCH_UP_LIMIT_MS / 1000} s`
      : (caughtUpMs / 1000).toFixed(2)
  } |`,
);
console.log(
  `| probe schedule lag p50 / p99 / max, ms: first window in the phase | ${
    lagCell(baseline.lagFirst)
  } | ${lagCell(tailing.lagFirst)} |`,
);
console.log(
  `| probe schedule lag p50 / p99 / max, ms: window ending at the phase's end | ${
    lagCell(baseline.lagEnd)
  } | ${lagCell(tailing.lagEnd)} |`,
);
console.log(
  `| agent CPU, % of one core | ${baseline.cpuPct.toFixed(0)} | ${tailing.cpuPct.toFixed(0)} |`,
);
console.log(
  `| agent RSS at the phase's end / peak (VmHWM), MB | ${baseline.rss.toFixed(0)} / ${
    baseline.hwm.toFixed(0)
  } | ${tailing.rss.toFixed(0)} / ${tailing.hwm.toFixed(0)} |`,
);
console.log(
  `| writer (this process) CPU, % of one core; longest gap between batches | ${
    baseline.writerCpuPct.toFixed(0)
  } | ${tailing.writerCpuPct.toFixed(0)}; ${maxBatchGapMs.toFixed(0)} ms |`,
);
console.log(
  `\nprobe lag p99, tailing / baseline: ${
    (worstP99 / Math.max(0.1, Math.max(baseline.lagEnd.p99 ?? 0, baseline.lagFirst?.p99 ?? 0)))
      .toFixed(2)
  }x; agent CPU, tailing - baseline: ${(tailing.cpuPct - baseline.cpuPct).toFixed(0)} points`,
);
console.log(
  `goal: keeps up with ${n0(RATE)} lines/s (every line counted within ${
    KEEP_UP_MS / 1000
  } s of the writer stopping): ${keptUp ? "yes" : "NO"}; probe lag p99 < ${LAG_GOAL_MS} ms ` +
    `while tailing (worst window ${f1(worstP99)} ms): ${lagOk ? "yes" : "NO"}`,
);
if (profileTop) console.log(`\n${profileTop}`);

if (values.keep) console.error(`kept ${tmp}`);
else await Deno.remove(tmp, { recursive: true });
