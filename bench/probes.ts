/**
 * bench/probes: 1000 HTTP targets on a local nginx, probed every 5 s for a
 * minute, by astron-watch and by Debian's prometheus-blackbox-exporter at the
 * same rate, one after the other in the same run. Prints CPU seconds per 1000
 * probes, RSS, astron-watch's schedule lag p99, and the latency each reports
 * for one target beside `curl -w %{time_total}`.
 *
 *   deno run -A bench/probes.ts [--seconds 60] [--targets 1000] [--only astron-watch|blackbox]
 *
 * `--only astron-watch` skips the exporter, for A/B runs of astron-watch
 * alone (curl is still measured).
 *
 * The blackbox exporter is pull-based: this script plays Prometheus and asks
 * `/probe?target=...&module=http_2xx` for every target every 5 s, spread over
 * the interval as Prometheus spreads its scrapes.
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    targets: { type: "string", default: "1000" },
    only: { type: "string" },
  },
});
const ONLY = values.only;
if (ONLY !== undefined && ONLY !== "astron-watch" && ONLY !== "blackbox") {
  throw new Error(`--only: "${ONLY}" is not astron-watch or blackbox`);
}
const SECONDS = Number(values.seconds);
const TARGETS = Number(values.targets);
const INTERVAL_S = 5;
const ROOT = new URL("../", import.meta.url).pathname;
const CLK_TCK = 100;

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/usr/bin"])) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch { /* not here */ }
  }
}

async function ensure(bin: string, pkg: string): Promise<string | undefined> {
  const found = which(bin);
  if (found) return found;
  console.error(`installing ${pkg} ...`);
  const out = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", pkg],
    stdout: "null",
    stderr: "null",
  })
    .output();
  return out.success ? which(bin) : undefined;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not come up`);
}

const dir = await Deno.makeTempDir({ prefix: "astron-watch-bench-probes-" });
const nginxBin = await ensure("nginx", "nginx");
if (!nginxBin) throw new Error("nginx is needed (apt-get install nginx)");
const nginxPort = freePort();
await Deno.writeTextFile(
  `${dir}/nginx.conf`,
  `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${nginxPort};
    location / { return 200 "nginx is healthy\\n"; }
  }
}
`,
);
const nginx = new Deno.Command(nginxBin, {
  args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
  stdout: "null",
  stderr: "null",
}).spawn();
const base = `http://127.0.0.1:${nginxPort}`;
await waitHttp(`${base}/`);
const urls = Array.from({ length: TARGETS }, (_, i) => `${base}/t/${i}`);

// ---- astron-watch ----
async function benchAstronWatch() {
  const port = freePort();
  let yaml = `server: { listen: "127.0.0.1:${port}" }\nlog: { level: warn }\nprobes:\n`;
  for (const [i, url] of urls.entries()) {
    yaml +=
      `  - { name: t${i}, type: http, url: "${url}", interval: ${INTERVAL_S}s, timeout: 2s, jitter: ${INTERVAL_S}s }\n`;
  }
  await Deno.writeTextFile(`${dir}/aw.yaml`, yaml);
  const task: string = JSON.parse(await Deno.readTextFile(ROOT + "deno.json")).tasks.start;
  const perms = task.split(/\s+/).filter((a) => a.startsWith("--allow-"));
  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...perms, ROOT + "main.ts", "run", "--config", `${dir}/aw.yaml`],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const api = `http://127.0.0.1:${port}`;
  await waitHttp(`${api}/healthz`);
  await sleep(INTERVAL_S * 1000 + 1000); // every probe has started once
  const runsAt = async () => {
    const s = await (await fetch(`${api}/api/v1/probes`)).json();
    return s.probes.reduce((n: number, p: { runs: number }) => n + p.runs, 0) as number;
  };
  const runs0 = await runsAt();
  const cpu0 = cpuSeconds(agent.pid);
  await sleep(SECONDS * 1000);
  const cpu1 = cpuSeconds(agent.pid);
  const runs1 = await runsAt();
  const rss = rssMB(agent.pid);
  const status = await (await fetch(`${api}/status?format=json`)).json();
  const t0 = await (await fetch(`${api}/api/v1/probes/t0?limit=4096`)).json();
  agent.kill("SIGTERM");
  await agent.status;
  const probes = runs1 - runs0;
  return {
    cpu: cpu1 - cpu0,
    probes,
    rss,
    lagP99: status.scheduler.lag_ms.p99 as number,
    latencyMs: t0.p50 as number,
  };
}

// ---- blackbox_exporter, driven at the same rate ----
async function benchBlackbox() {
  const bin = await ensure("prometheus-blackbox-exporter", "prometheus-blackbox-exporter");
  if (!bin) return undefined;
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/bb.yml`,
    `modules:\n  http_2xx:\n    prober: http\n    timeout: 2s\n    http:\n      preferred_ip_protocol: ip4\n`,
  );
  const exporter = new Deno.Command(bin, {
    args: [`--config.file=${dir}/bb.yml`, `--web.listen-address=127.0.0.1:${port}`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const api = `http://127.0.0.1:${port}`;
  await waitHttp(`${api}/metrics`);
  const probeOnce = async (url: string) => {
    const r = await fetch(`${api}/probe?module=http_2xx&target=${encodeURIComponent(url)}`);
    const text = await r.text();
    return Number(/^probe_duration_seconds ([\d.e+-]+)$/m.exec(text)?.[1]) * 1000;
  };
  // One Prometheus-like round: every target once, spread evenly over the interval.
  let done = 0;
  const round = async () => {
    const gap = (INTERVAL_S * 1000) / urls.length;
    const inflight: Promise<unknown>[] = [];
    const start = performance.now();
    for (const [i, url] of urls.entries()) {
      const due = start + i * gap;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      inflight.push(probeOnce(url).then(() => done++, () => {}));
    }
    await Promise.all(inflight);
  };
  await round(); // warm-up
  done = 0;
  const cpu0 = cpuSeconds(exporter.pid);
  const rounds = Math.round(SECONDS / INTERVAL_S);
  for (let i = 0; i < rounds; i++) await round();
  const cpu1 = cpuSeconds(exporter.pid);
  const rss = rssMB(exporter.pid);
  const lat: number[] = [];
  for (let i = 0; i < 50; i++) lat.push(await probeOnce(urls[0]));
  exporter.kill("SIGTERM");
  await exporter.status;
  return { cpu: cpu1 - cpu0, probes: done, rss, latencyMs: median(lat) };
}

async function curlLatency(): Promise<number | undefined> {
  const curl = await ensure("curl", "curl");
  if (!curl) return undefined;
  const xs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const out = await new Deno.Command(curl, {
      args: ["-s", "-o", "/dev/null", "-w", "%{time_total}", urls[0]],
    }).output();
    xs.push(Number(new TextDecoder().decode(out.stdout)) * 1000);
  }
  return median(xs);
}

try {
  console.error(`${TARGETS} targets every ${INTERVAL_S}s for ${SECONDS}s each ...`);
  const aw = ONLY === "blackbox" ? undefined : await benchAstronWatch();
  const bb = ONLY === "astron-watch" ? undefined : await benchBlackbox();
  const curl = await curlLatency();
  const per1000 = (r: { cpu: number; probes: number }) => (r.cpu / r.probes) * 1000;
  const fmt = (
    n: number | undefined,
    d = 3,
  ) => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(d));
  console.log(
    `\n| prober | probes run | CPU s / 1000 probes | RSS MB | schedule lag p99 | latency to one target (median) |`,
  );
  console.log(`| --- | --- | --- | --- | --- | --- |`);
  if (aw) {
    console.log(
      `| astron-watch | ${aw.probes} | ${fmt(per1000(aw))} | ${fmt(aw.rss, 0)} | ${
        fmt(aw.lagP99, 0)
      } ms | ${fmt(aw.latencyMs)} ms |`,
    );
  }
  if (bb) {
    console.log(
      `| blackbox_exporter | ${bb.probes} | ${fmt(per1000(bb))} | ${fmt(bb.rss, 0)} | (pulled) | ${
        fmt(bb.latencyMs)
      } ms |`,
    );
  } else if (ONLY !== "astron-watch") {
    console.log(
      `| blackbox_exporter | skipped: prometheus-blackbox-exporter not installable | | | | |`,
    );
  }
  console.log(`| curl -w %{time_total} | | | | | ${fmt(curl)} ms |`);
  if (aw && bb) {
    console.log(
      `\nCPU per probe, astron-watch / blackbox_exporter: ${fmt(per1000(aw) / per1000(bb), 2)}x`,
    );
  }
  if (curl && aw) console.log(`latency, astron-watch / curl: ${fmt(aw.latencyMs / curl, 2)}x`);
  if (curl && bb) console.log(`latency, blackbox_exporter / curl: ${fmt(bb.latencyMs / curl, 2)}x`);
} finally {
  nginx.kill("SIGTERM");
  await nginx.status;
  await Deno.remove(dir, { recursive: true });
}
