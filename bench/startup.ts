/**
 * bench/startup: wall time of each command as a whole process, beside
 * `deno run` of an empty file measured in the same run, and the idle RSS of
 * `run` with 20 http probes.
 *
 *   deno run -A bench/startup.ts [--root DIR] [--runs 10] [--rss-seconds 60]
 *
 * Every process is `deno run` with the permissions of `deno task start`, in a
 * fresh temp dir as cwd (so the built-in defaults apply), and the median of
 * `--runs` is printed:
 *
 * - `version`, `--help`: print and exit.
 * - `check`: validate the built-in defaults.
 * - `probe http://127.0.0.1:PORT`: one probe of a local `Deno.serve`.
 * - `run`: until `/readyz` answers 200 (the config sets only
 *   `server.listen: 127.0.0.1:0` and `log.stderr: always`; the port is read
 *   from the "listening" log line on stderr).
 *
 * Then one `run` with 20 http probes every 30 s against a local `Deno.serve`,
 * left alone for `--rss-seconds`, and its VmRSS from `/proc/PID/status`.
 *
 * `--root` points at another checkout (a `git worktree` of an older commit)
 * to measure it with the same script.
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string", default: new URL("../", import.meta.url).pathname },
    runs: { type: "string", default: "10" },
    "rss-seconds": { type: "string", default: "60" },
  },
});
const ROOT = values.root.endsWith("/") ? values.root : values.root + "/";
const RUNS = Number(values.runs);
const RSS_SECONDS = Number(values["rss-seconds"]);

const task: string = JSON.parse(await Deno.readTextFile(ROOT + "deno.json")).tasks.start;
const PERMS = task.split(/\s+/).filter((a) => a.startsWith("--allow-"));
const MAIN = ROOT + "main.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A target for the probes; it lives in this process.
const target = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("ok\n"),
);
const targetUrl = `http://127.0.0.1:${target.addr.port}/`;

const empty = await Deno.makeTempFile({ prefix: "astron-watch-bench-empty-", suffix: ".ts" });

/** Run `deno run ... args` to its end in a fresh temp dir; resolves to milliseconds. */
async function timeProcess(args: string[], expectCode = 0): Promise<number> {
  const cwd = await Deno.makeTempDir({ prefix: "astron-watch-bench-startup-" });
  try {
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...PERMS, ...args],
      cwd,
      stdout: "null",
      stderr: "piped",
    }).output();
    const ms = performance.now() - t0;
    if (out.code !== expectCode) {
      throw new Error(
        `${args.join(" ")}: exit ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    return ms;
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

interface Agent {
  child: Deno.ChildProcess;
  cwd: string;
  /** Milliseconds from spawn to the first 200 from `/readyz`. */
  readyMs: number;
}

/** Start `run` with `yaml` as its config; resolves once `/readyz` answers 200. */
async function startAgent(yaml: string): Promise<Agent> {
  const cwd = await Deno.makeTempDir({ prefix: "astron-watch-bench-run-" });
  await Deno.writeTextFile(`${cwd}/astron-watch.yaml`, yaml);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMS, MAIN, "run"],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Read stderr until the "listening" line names the port; drain the rest.
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let port: number | undefined;
  while (port === undefined) {
    const { value, done } = await lines.read();
    if (done) {
      const { code } = await child.status;
      throw new Error(`run exited (${code}) before listening:\n${buffered}`);
    }
    buffered += value;
    const m = /"msg":"listening".*?"addr":"[^"]*:(\d+)"/.exec(buffered);
    if (m) port = Number(m[1]);
  }
  (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  const url = `http://127.0.0.1:${port}/readyz`;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (performance.now() - t0 > 30_000) throw new Error("run did not become ready in 30 s");
    await sleep(2);
  }
  return { child, cwd, readyMs: performance.now() - t0 };
}

async function stopAgent(agent: Agent): Promise<void> {
  agent.child.kill("SIGTERM");
  await agent.child.status;
  await Deno.remove(agent.cwd, { recursive: true });
}

const RUN_YAML = `server: { listen: "127.0.0.1:0" }\nlog: { stderr: always }\n`;

const cases: { name: string; time: () => Promise<number> }[] = [
  { name: "empty file", time: () => timeProcess([empty]) },
  { name: "version", time: () => timeProcess([MAIN, "version"]) },
  { name: "--help", time: () => timeProcess([MAIN, "--help"]) },
  { name: "check", time: () => timeProcess([MAIN, "check"]) },
  { name: "probe http", time: () => timeProcess([MAIN, "probe", targetUrl]) },
  {
    name: "run (ready)",
    time: async () => {
      const agent = await startAgent(RUN_YAML);
      await stopAgent(agent);
      return agent.readyMs;
    },
  },
];

// One warm-up of each (module cache, npm resolution), then RUNS rounds,
// interleaved so that a slow moment of the machine hits every case alike.
const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (const c of cases) await c.time();
for (let i = 0; i < RUNS; i++) {
  for (const c of cases) samples.get(c.name)!.push(await c.time());
}

const base = median(samples.get("empty file")!);
console.log(`root: ${ROOT}  (deno ${Deno.version.deno}, median of ${RUNS})\n`);
console.log("| command | median ms | x empty file |");
console.log("| --- | ---: | ---: |");
for (const c of cases) {
  const ms = median(samples.get(c.name)!);
  console.log(`| ${c.name} | ${ms.toFixed(0)} | ${(ms / base).toFixed(1)} |`);
}

// Idle RSS: 20 http probes every 30 s.
let yaml = RUN_YAML + "probes:\n";
for (let i = 0; i < 20; i++) {
  yaml += `  - { name: t${i}, type: http, url: "${targetUrl}t/${i}", interval: 30s }\n`;
}
const agent = await startAgent(yaml);
await sleep(RSS_SECONDS * 1000);
const status = await Deno.readTextFile(`/proc/${agent.child.pid}/status`);
const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
await stopAgent(agent);
console.log(
  `\nidle RSS of run, 20 http probes, after ${RSS_SECONDS} s: ${(rssKb / 1024).toFixed(1)} MB`,
);

await target.shutdown();
await Deno.remove(empty);
