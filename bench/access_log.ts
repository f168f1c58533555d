/**
 * bench/access_log: `astron-watch access-log report` against GoAccess (the
 * baseline, measured in the same run) on one nginx `main` access log.
 *
 *   deno run -A bench/access_log.ts [--lines 2000000] [--keep]
 *
 * Writes `--lines` lines of `mainLines` (tests/fixtures/nginx_log.ts; about
 * 200 bytes a line, so 400 MB for 2M) to a temp dir, then runs, each as a
 * child process to its end, one after the other with the file in the page
 * cache:
 *
 * - GoAccess: `goaccess FILE --log-format='%h %^[%d:%t %^] "%r" %s %b "%R"
 *   "%u" %^' --date-format=%d/%b/%Y --time-format=%T -o OUT.json`;
 * - ours: `deno run -A main.ts access-log report FILE --format json > /dev/null`
 *   (one worker per core, the default), then the same with `--jobs 1`.
 *
 * Wall time is measured around the child; peak RSS is `/usr/bin/time -f %M`
 * when it is installed, else the child's VmHWM polled from /proc/PID/status
 * every 20 ms. Prints a markdown table (tool, lines, seconds, lines/s, peak
 * RSS MB) and the ratios ours/GoAccess of lines/s and of peak RSS. `--keep`
 * leaves the temp dir (and the log) in place.
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { mainLines } from "../tests/fixtures/nginx_log.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "2000000" },
    keep: { type: "boolean", default: false },
  },
});
const LINES = Number(values.lines);
const ROOT = new URL("../", import.meta.url).pathname;
const TIME = "/usr/bin/time";

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(join(dir || ".", name)).isFile) return join(dir || ".", name);
    } catch {
      // not here
    }
  }
  return undefined;
}
const GOACCESS = which("goaccess");
if (!GOACCESS) {
  console.error("goaccess is not on PATH (apt-get install goaccess): it is the baseline");
  Deno.exit(1);
}
const hasTime = (() => {
  try {
    return Deno.statSync(TIME).isFile;
  } catch {
    return false;
  }
})();

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-access-log-" });
const log = join(tmp, "access.log");

// 1. The log, written in ~1 MB pieces.
{
  const t0 = performance.now();
  using file = await Deno.open(log, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let piece = "";
  for (const line of mainLines(LINES, 7)) {
    piece += line + "\n";
    if (piece.length >= 1 << 20) {
      const bytes = encoder.encode(piece);
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      piece = "";
    }
  }
  const bytes = encoder.encode(piece);
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
  const size = (await Deno.stat(log)).size;
  console.error(
    `wrote ${LINES.toLocaleString("en")} lines, ${(size / 1e6).toFixed(0)} MB, in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
}

interface Measure {
  seconds: number;
  rssMB: number;
}

/** Run `cmd args` to its end with stdout discarded; its wall time and peak RSS. */
async function measure(cmd: string, args: string[]): Promise<Measure> {
  const timeFile = join(tmp, `time-${crypto.randomUUID()}.txt`);
  const command = hasTime
    ? new Deno.Command(TIME, {
      args: ["-f", "%e %M", "-o", timeFile, cmd, ...args],
      cwd: ROOT,
      stdin: "null", // GoAccess reads a piped stdin as one more log
      stdout: "null",
      stderr: "piped",
    })
    : new Deno.Command(cmd, { args, cwd: ROOT, stdin: "null", stdout: "null", stderr: "piped" });
  const t0 = performance.now();
  const child = command.spawn();
  let hwmKB = 0;
  let polling = !hasTime;
  const poll = (async () => {
    while (polling) {
      try {
        const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
        const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
        if (m) hwmKB = Math.max(hwmKB, Number(m[1]));
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const out = await child.output();
  const seconds = (performance.now() - t0) / 1000;
  polling = false;
  await poll;
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  if (hasTime) {
    const [, kb] = (await Deno.readTextFile(timeFile)).trim().split("\n").at(-1)!.split(" ");
    hwmKB = Number(kb);
  }
  return { seconds, rssMB: hwmKB / 1024 };
}

// 2. GoAccess, then ours.
const goaccessJson = join(tmp, "goaccess.json");
const theirs = await measure(GOACCESS, [
  log,
  `--log-format=%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^`,
  "--date-format=%d/%b/%Y",
  "--time-format=%T",
  "-o",
  goaccessJson,
]);
const general = JSON.parse(await Deno.readTextFile(goaccessJson)).general;
if (general.valid_requests !== LINES) {
  console.error(`GoAccess counted ${general.valid_requests} valid requests of ${LINES}`);
}
const report = (extra: string[]) =>
  measure(Deno.execPath(), [
    "run",
    "-A",
    "--quiet",
    join(ROOT, "main.ts"),
    "access-log",
    "report",
    log,
    "--format",
    "json",
    ...extra,
  ]);
const ours = await report([]);
// One worker too: what one core does, beside what the default (one worker per core) does.
const oneCore = await report(["--jobs", "1"]);

if (values.keep) console.error(`kept ${tmp}`);
else await Deno.remove(tmp, { recursive: true });

const rate = (m: Measure) => LINES / m.seconds;
const row = (tool: string, m: Measure) =>
  `| ${tool} | ${LINES.toLocaleString("en")} | ${m.seconds.toFixed(2)} | ${
    Math.round(rate(m)).toLocaleString("en")
  } | ${m.rssMB.toFixed(0)} |`;
console.log(
  `\n${navigator.hardwareConcurrency} cores; peak RSS from ${
    hasTime ? "/usr/bin/time %M" : "/proc/PID/status VmHWM (polled)"
  }\n`,
);
console.log("| tool | lines | seconds | lines/s | peak RSS MB |");
console.log("| --- | --- | --- | --- | --- |");
console.log(row("GoAccess (baseline)", theirs));
console.log(row("astron-watch access-log report --format json", ours));
console.log(row("the same, --jobs 1 (one core)", oneCore));
const ratio = (m: Measure) =>
  `lines/s ${(rate(m) / rate(theirs)).toFixed(2)}x, peak RSS ${
    (m.rssMB / theirs.rssMB).toFixed(2)
  }x`;
console.log(`\nours / GoAccess: ${ratio(ours)} (--jobs 1: ${ratio(oneCore)})`);
