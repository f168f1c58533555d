/**
 * Benchmark of the rotating log sink against the page-cache limit and its
 * peers, all in one run: 2 M JSON lines of 200 bytes (400 MB), 10 MB rotation,
 * keep 100. Stdin writers are fed by `cat` through a pipe, and their start-up
 * time (the same command on empty input) is subtracted. Each writer runs
 * `--rounds` times, interleaved; the table shows the median, its ratio to
 * the raw limit, and whether any output file ends mid-line (checked on disk:
 * every line is 200 bytes, so a whole-line file is a multiple of 200).
 *
 * Missing peers are installed (`apt-get install apache2-utils runit`,
 * `npm install` in `bench/peers/`) or skipped with the reason.
 *
 * usage: deno run -A bench/log_sink.ts [--lines 2000000] [--rounds 5]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { RotatingFileSink } from "../src/log/rotating_file_sink.ts";

const LINE = 200;
const CHUNK = 64 * 1024;
const MAX_SIZE = 10_000_000;
const KEEP = 100;
const ROOT = new URL("..", import.meta.url).pathname;
const PEERS = new URL("./peers/", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;
const DENO = Deno.execPath();

/** One writer under test: a shell command fed on stdin, or a function run in this process. */
interface Writer {
  name: string;
  /** Which raw limit it is compared with. */
  limit: "stdin" | "memory";
  /** This row is that raw limit. */
  raw?: boolean;
  /** `sh` command writing into `$OUT`; `null` marks a skipped peer. */
  command?: string | null;
  /** In-process writer: resolves to its own seconds. */
  inProcess?: (out: string, data: Uint8Array) => Promise<number>;
  /** Prepare the output directory (svlogd's config). */
  setup?: (out: string) => Promise<void>;
  skipped?: string;
  seconds: number[];
  split?: string;
}

if (Deno.args[0] === "--raw-stdin") {
  rawStdin(Deno.args[1]);
  Deno.exit(0);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "2000000" },
    rounds: { type: "string", default: "5" },
  },
});
const lines = Number(values.lines);
const rounds = Number(values.rounds);
const tmp = await Deno.makeTempDir({ prefix: "astron-bench-" });
try {
  await main(tmp);
} finally {
  await Deno.remove(tmp, { recursive: true });
}

async function main(tmp: string): Promise<void> {
  const outRoot = join(tmp, "out");
  await Deno.mkdir(outRoot);
  // Outputs on a tmpfs measure the page cache, not the disk's writeback (which
  // makes runs on disk vary 3x as 20 GB go by); without root, sync between runs.
  const onTmpfs = Deno.uid() === 0 &&
    (await command("mount", ["-t", "tmpfs", "-o", "size=2g", "tmpfs", outRoot])).success;
  try {
    await measure(tmp, outRoot, onTmpfs);
  } finally {
    if (onTmpfs) await command("umount", [outRoot]);
  }
}

function command(cmd: string, args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
}

async function measure(tmp: string, outRoot: string, onTmpfs: boolean): Promise<void> {
  const dataPath = join(tmp, "data.ndjson");
  const data = makeLines(lines);
  await Deno.writeFile(dataPath, data);
  const text = new TextDecoder().decode(data);

  const rotatelogs = await aptPeer("rotatelogs", "apache2-utils");
  const svlogd = await aptPeer("svlogd", "runit");
  const pino = await npmPeer();
  const pipeArgs = `--max-size ${MAX_SIZE} --keep ${KEEP}`;
  const specs: Omit<Writer, "seconds">[] = [
    {
      name: "raw limit: `cat > file` (no rotation)",
      limit: "stdin",
      command: `cat > "$OUT/app.log"`,
    },
    {
      name: "raw limit: Deno 64 KiB `readSync`/`writeSync`, stdin (no rotation)",
      limit: "stdin",
      raw: true,
      command: `"${DENO}" run -A "${SELF}" --raw-stdin "$OUT/app.log"`,
    },
    {
      name: "**astron-watch `logs pipe`** (stdin)",
      limit: "stdin",
      command: `"${DENO}" run -A "${ROOT}main.ts" logs pipe --file "$OUT/app.log" ${pipeArgs}`,
    },
    {
      name: "Apache `rotatelogs -n 100 app.log 10M`",
      limit: "stdin",
      command: rotatelogs && `${rotatelogs} -n ${KEEP} "$OUT/app.log" 10M`,
      skipped: rotatelogs ? undefined : "rotatelogs not available",
    },
    {
      name: "runit `svlogd -b 65536` (`s10000000`, `n100`)",
      limit: "stdin",
      command: svlogd && `${svlogd} -b 65536 "$OUT"`,
      setup: (out) => Deno.writeTextFile(join(out, "config"), `s${MAX_SIZE}\nn${KEEP}\n`),
      skipped: svlogd ? undefined : "svlogd not available",
    },
    {
      name: "pino-roll 4 on Node (one write per line)",
      limit: "stdin",
      command: pino.ok ? `node "${PEERS}pino_roll.mjs" "$OUT/app.log"` : null,
      skipped: pino.ok ? undefined : pino.reason,
    },
    {
      name: "raw limit: Deno 64 KiB `writeSync` from memory (no rotation)",
      limit: "memory",
      raw: true,
      inProcess: rawMemory,
    },
    {
      name: "**`RotatingFileSink.writeLines`**, 64 KiB chunks (in-process)",
      limit: "memory",
      inProcess: (out, data) => sinkChunks(out, data, false),
    },
    {
      name: "`RotatingFileSink.writeLines`, `syncWrites: true` (in-process)",
      limit: "memory",
      inProcess: (out, data) => sinkChunks(out, data, true),
    },
    {
      name: "`RotatingFileSink.write(line)`, one string a line (in-process)",
      limit: "memory",
      inProcess: (out) => sinkStrings(out, text),
    },
  ];
  const writers: Writer[] = specs.map((w) => ({ ...w, seconds: [] }));

  for (let round = 1; round <= rounds; round++) {
    for (const w of writers) {
      if (w.skipped) continue;
      const out = await Deno.makeTempDir({ dir: outRoot, prefix: "out-" });
      await w.setup?.(out);
      if (!onTmpfs) await command("sync", []);
      let seconds: number;
      if (w.inProcess) {
        seconds = await w.inProcess(out, data);
      } else {
        const startup = await timeShell(`cat /dev/null | ${w.command}`, out);
        await Deno.remove(out, { recursive: true });
        await Deno.mkdir(out);
        await w.setup?.(out);
        seconds = (await timeShell(`cat "${dataPath}" | ${w.command}`, out)) - startup;
      }
      w.seconds.push(seconds);
      w.split ??= await checkSplit(out, data.length);
      console.error(`round ${round}: ${w.name}: ${(lines / seconds / 1e6).toFixed(2)} M lines/s`);
      await Deno.remove(out, { recursive: true });
    }
  }
  printTable(writers, onTmpfs ? "outputs on a tmpfs" : "outputs on disk, synced between runs");
}

function printTable(writers: Writer[], where: string): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rate = (w: Writer) => lines / median(w.seconds);
  const limitFor = (kind: Writer["limit"]) => rate(writers.find((w) => w.limit === kind && w.raw)!);
  const rows = writers.map((w) => {
    if (w.skipped) return `| ${w.name} | skipped: ${w.skipped} | | |`;
    const r = rate(w);
    const ratio = `${Math.round((r / limitFor(w.limit)) * 100)}%`;
    return `| ${w.name} | ${(r / 1e6).toFixed(2)} M | ${ratio} | ${w.split} |`;
  });
  const cpus = navigator.hardwareConcurrency;
  console.log(
    `\n${lines.toLocaleString("en")} lines of ${LINE} bytes, rotation at ${MAX_SIZE / 1e6} MB, ` +
      `keep ${KEEP}; median of ${rounds}; ${cpus} CPUs; deno ${Deno.version.deno}; ${where}. ` +
      "Stdin writers: start-up subtracted, ratio to the Deno stdin limit; " +
      "in-process: ratio to the Deno memory limit.\n",
  );
  console.log("| writer | lines/s | vs raw limit | lines split across files? |");
  console.log("| --- | ---: | ---: | --- |");
  for (const row of rows) console.log(row);
}

/** `n` JSON lines of exactly LINE bytes, like the agent's own records. */
function makeLines(n: number): Uint8Array {
  const out = new Uint8Array(n * LINE);
  const encoder = new TextEncoder();
  for (let i = 0; i < n; i++) {
    const head =
      `{"time":"2026-11-25T10:00:00.123Z","level":"info","msg":"probe result","probe":"nginx","seq":${i},"ms":12.5,"pad":"`;
    const line = head + "x".repeat(LINE - head.length - 3) + '"}\n';
    encoder.encodeInto(line, out.subarray(i * LINE));
  }
  return out;
}

/** Wall seconds of one `sh -c` script with `$OUT` set; fails loudly if it fails. */
async function timeShell(script: string, out: string): Promise<number> {
  const start = performance.now();
  const { success, stderr } = await new Deno.Command("sh", {
    args: ["-c", script],
    env: { OUT: out },
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - start) / 1000;
  if (!success) throw new Error(`${script}: ${new TextDecoder().decode(stderr).trim()}`);
  return seconds;
}

/** How the output files hold lines: "no" when every file holds whole lines only. */
async function checkSplit(dir: string, expected: number): Promise<string> {
  const skip = new Set(["config", "lock", "state", "newstate"]);
  let files = 0;
  let torn = 0;
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || skip.has(e.name)) continue;
    const path = join(dir, e.name);
    const { size } = await Deno.stat(path);
    files++;
    total += size;
    if (size % LINE !== 0 || (size > 0 && (await lastByte(path)) !== 10)) torn++;
  }
  const lost = expected - total;
  const kept = lost > 0 ? `; ${(lost / LINE).toFixed(0)} lines beyond keep/limit` : "";
  return (torn ? `**yes**: ${torn} of ${files} files end mid-line` : `no (${files} files)`) + kept;
}

async function lastByte(path: string): Promise<number> {
  using file = await Deno.open(path);
  await file.seek(-1, Deno.SeekMode.End);
  const b = new Uint8Array(1);
  await file.read(b);
  return b[0];
}

/** The raw stdin limit: 64 KiB `readSync`/`writeSync`, no line handling, no rotation. */
function rawStdin(path: string): void {
  using file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(CHUNK);
  for (;;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null) break;
    for (let off = 0; off < n;) off += file.writeSync(buf.subarray(off, n));
  }
}

/** The raw in-process limit: the same bytes in 64 KiB `writeSync` calls, no rotation. */
function rawMemory(out: string, data: Uint8Array): Promise<number> {
  const start = performance.now();
  using file = Deno.openSync(join(out, "app.log"), { write: true, create: true, truncate: true });
  for (let at = 0; at < data.length; at += CHUNK) {
    const part = data.subarray(at, Math.min(at + CHUNK, data.length));
    for (let off = 0; off < part.length;) off += file.writeSync(part.subarray(off));
  }
  return Promise.resolve((performance.now() - start) / 1000);
}

/** The sink's byte path: whole-line chunks of ~64 KiB, waiting on `drain` like `logs pipe`. */
async function sinkChunks(out: string, data: Uint8Array, syncWrites: boolean): Promise<number> {
  const start = performance.now();
  const sink = new RotatingFileSink({
    path: join(out, "app.log"),
    maxSize: MAX_SIZE,
    keep: KEEP,
    syncWrites,
  });
  const perChunk = Math.floor(CHUNK / LINE);
  for (let at = 0; at < data.length; at += perChunk * LINE) {
    const part = data.subarray(at, Math.min(at + perChunk * LINE, data.length));
    sink.writeLines(part, part.length / LINE);
    if (sink.pending > 4 * 1024 * 1024) await sink.drain();
  }
  await sink.close();
  return checked(sink, (performance.now() - start) / 1000);
}

/** The logger's path: one string per line into `write`. */
async function sinkStrings(out: string, text: string): Promise<number> {
  const start = performance.now();
  const sink = new RotatingFileSink({ path: join(out, "app.log"), maxSize: MAX_SIZE, keep: KEEP });
  for (let at = 0; at < text.length; at += LINE) {
    sink.write(text.slice(at, at + LINE), "info");
    if (at % (LINE * 4096) === 0 && sink.pending > 4 * 1024 * 1024) await sink.drain();
  }
  await sink.close();
  return checked(sink, (performance.now() - start) / 1000);
}

function checked(sink: RotatingFileSink, seconds: number): number {
  const { dropped_lines, written_lines } = sink.stats();
  if (dropped_lines > 0 || written_lines !== lines) {
    throw new Error(`sink wrote ${written_lines} lines and dropped ${dropped_lines}`);
  }
  return seconds;
}

/** The path of `bin`, installing Debian `pkg` when missing and we are root; undefined if unavailable. */
async function aptPeer(bin: string, pkg: string): Promise<string | undefined> {
  const found = await which(bin);
  if (found || Deno.uid() !== 0) return found;
  console.error(`installing ${pkg} for ${bin}...`);
  const install = () =>
    new Deno.Command("apt-get", {
      args: ["install", "-y", "-qq", pkg],
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "null",
    }).output();
  if (!(await install()).success) {
    await new Deno.Command("apt-get", { args: ["update", "-qq"], stdout: "null", stderr: "null" })
      .output();
    await install();
  }
  return await which(bin);
}

async function which(bin: string): Promise<string | undefined> {
  const { success, stdout } = await new Deno.Command("sh", {
    args: ["-c", `command -v ${bin}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return success ? new TextDecoder().decode(stdout).trim() : undefined;
}

/** pino-roll under `bench/peers/node_modules`, installed with npm when missing. */
async function npmPeer(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!(await which("node"))) return { ok: false, reason: "node not installed" };
  try {
    await Deno.stat(join(PEERS, "node_modules", "pino-roll"));
    return { ok: true };
  } catch {
    // not installed yet
  }
  if (!(await which("npm"))) return { ok: false, reason: "npm not installed" };
  console.error("installing pino-roll with npm...");
  const { success, stderr } = await new Deno.Command("npm", {
    args: ["install", "--no-audit", "--no-fund", "--silent"],
    cwd: PEERS,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (success) return { ok: true };
  const why = new TextDecoder().decode(stderr).trim().split("\n")[0];
  return { ok: false, reason: `npm install failed: ${why}` };
}
