/**
 * Log-directory housekeeping (issue 13): real directories of loguru- and
 * logrotate-named files with set sizes and mtimes, live files held open for
 * writing by real processes, the planner, the executor, the component and
 * the `housekeeping` command.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { validateConfig } from "../src/config/schema.ts";
import type { HousekeepingConfig } from "../src/config/housekeeping.ts";
import { findOpenForWriting } from "../src/housekeeping/open_files.ts";
import { type DirectoryFile, planDirectory } from "../src/housekeeping/plan.ts";
import { globToRegExp } from "../src/tail/glob.ts";
import { seriesOf } from "../src/tail/series.ts";
import { Housekeeper, runEntry } from "../src/housekeeping/run.ts";
import { Logger, type LogLevel, type LogSink } from "../src/log/logger.ts";
import { ROOT } from "./support/agent.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The injected clock of every planned run. */
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

/** loguru's rotation name for a file rotated at `ms`: `core.2026-11-27_06-00-00_000000.log`. */
function loguru(stem: string, ms: number, ext = ".log"): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const ts = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}_` +
    `${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}_` +
    `${p(d.getUTCMilliseconds() * 1000, 6)}`;
  return `${stem}.${ts}${ext}`;
}

/** `size` bytes of loguru-formatted lines (compressible, like real logs). */
function logText(size: number, seed: string): Uint8Array {
  let text = "";
  for (let i = 0; text.length < size; i++) {
    text += `INFO | 2026-11-26 10:00:${String(i % 60).padStart(2, "0")} | 4242 - 139 | ` +
      `app.py - handle: ${i} request ${seed}-${i} done\n`;
  }
  return new TextEncoder().encode(text.slice(0, size));
}

/** Write a file of `size` bytes (or the given bytes) with mode 0640 and the mtime `mtime`. */
async function put(
  dir: string,
  name: string,
  mtime: number,
  content: number | Uint8Array,
): Promise<Uint8Array> {
  const bytes = typeof content === "number" ? logText(content, name) : content;
  const path = join(dir, name);
  await Deno.writeFile(path, bytes, { mode: 0o640 });
  await Deno.chmod(path, 0o640);
  await Deno.utime(path, new Date(mtime), new Date(mtime));
  return bytes;
}

/** Every file of a directory as `name size mtime mode`, sorted. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const st = await Deno.lstat(join(dir, e.name));
    out.push(`${e.name} ${st.size} ${st.mtime?.getTime()} ${(st.mode ?? 0) & 0o777}`);
  }
  return out.sort();
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function totalSize(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) n += (await Deno.lstat(join(dir, e.name))).size;
  return n;
}

/** A real process (`sh` turned `sleep`) holding files open: `>>` for writing, `<` for reading. */
interface Holder extends AsyncDisposable {
  pid: number;
}

async function hold(writing: string[], reading: string[] = []): Promise<Holder> {
  let fd = 3;
  const redirects = [
    ...writing.map((_, i) => `exec ${fd++}>>"$${i + 1}"`),
    ...reading.map((_, i) => `exec ${fd++}<"$${writing.length + i + 1}"`),
  ];
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `${redirects.join("; ")}; echo ready; exec sleep 600`,
      "sh",
      ...writing,
      ...reading,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  await reader.cancel();
  assert.ok(seen.includes("ready"), "the holder process did not start");
  return {
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited already
      }
      await child.status;
    },
  };
}

/** A temp directory removed when disposed. */
async function tempDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** The validated `housekeeping:` entries of a raw config. */
function entries(raw: Record<string, unknown>[]): HousekeepingConfig[] {
  const r = validateConfig({ housekeeping: raw });
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.problems));
  return r.config.housekeeping;
}

/**
 * Two loguru series at `now`: `core.log` (5000 B) with 8 rotations of 10 kB,
 * 6 h apart, and `worker.log` (2000 B) with 4 rotations of 10 kB, 12 h apart.
 * 127 kB in all.
 */
async function loguruDir(dir: string, now: number): Promise<void> {
  await put(dir, "core.log", now - 60_000, 5000);
  for (let i = 1; i <= 8; i++) {
    await put(dir, loguru("core", now - i * 6 * HOUR), now - i * 6 * HOUR, 10_000);
  }
  await put(dir, "worker.log", now - 300_000, 2000);
  for (let j = 1; j <= 4; j++) {
    const t = now - (j * 12 + 1) * HOUR;
    await put(dir, loguru("worker", t), t, 10_000);
  }
}

/** Memory log sink: the records written, parsed. */
class MemorySink implements LogSink {
  records: Record<string, unknown>[] = [];
  write(line: string, _level: LogLevel): void {
    this.records.push(JSON.parse(line));
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("a file's series strips loguru, logrotate and numbered rotation suffixes", () => {
  const cases: [string, string][] = [
    ["core.log", "core.log"],
    ["core.2026-11-26_10-00-00_123456.log", "core.log"],
    ["core.2026-11-26_10-00-00_123456.2.log", "core.log"],
    ["core.2026-11-26_10-00-00_123456.log.gz", "core.log"],
    ["access.log.1", "access.log"],
    ["access.log.2.gz", "access.log"],
    ["access.log-20261126", "access.log"],
    ["access.log-20261126.gz", "access.log"],
    ["app.log.2026-11-26", "app.log"],
    ["app.log.2026-11-26_10", "app.log"],
    ["error.log", "error.log"],
  ];
  for (const [name, series] of cases) assert.equal(seriesOf(name), series, name);
  assert.ok(globToRegExp("*.log").test("core.log"));
  assert.ok(!globToRegExp("*.log").test(".core.log"));
  assert.ok(globToRegExp("{core,worker}.log").test("worker.log"));
  assert.ok(!globToRegExp("core[0-9].log").test("corex.log"));
});

Deno.test("the plan spares open files, live files, the newest of a series and keep_min", () => {
  const f = (name: string, ageDays: number, openForWriting = false): DirectoryFile => ({
    name,
    size: 1000,
    mtime: NOW - ageDays * DAY,
    openForWriting,
  });
  const files = [
    f("core.log", 40), // the live file, not written for 40 days: still the live file
    f("core.log.1", 41, true), // open for writing
    f("core.log.2", 42),
    f("core.log.3", 43),
    f("solo.log.4.gz", 90), // the only (so the newest) file of its series
    f("notes.txt", 90), // not matched by the pattern
  ];
  const policy = {
    match: globToRegExp("*.log"),
    max_size: 0,
    max_age: 30 * DAY,
    compress_after: DAY,
    keep_min: 3,
  };
  const plan = planDirectory(files, policy, { now: NOW });
  assert.deepEqual(plan.actions.map((a) => `${a.action} ${a.name}`), [
    "delete core.log.3", // core.log.2 is numbered: not gzipped
  ]);
  assert.deepEqual(
    Object.fromEntries(plan.kept.map((k) => [k.name, k.reason])),
    {
      "core.log": "the live file of its series",
      "core.log.1": "open for writing by a process",
      "core.log.2": "one of the 3 newest of its series (keep_min)",
      "solo.log.4.gz": "the newest file of its series",
    },
  );
  assert.equal(plan.files, 5);
  assert.equal(plan.series, 2);
});

Deno.test("a run keeps a directory of loguru files within max_size, oldest first, never the live files", async () => {
  await using dir = await tempDir("astron-hk-budget-");
  await loguruDir(dir.path, NOW);
  await using _live = await hold([join(dir.path, "core.log")]);
  const liveBefore = await Deno.readFile(join(dir.path, "core.log"));
  const [entry] = entries([{ path: dir.path, max_size: "60KB", keep_min: 2 }]);
  const result = await runEntry(entry, { now: NOW });
  assert.deepEqual(result.errors, []);
  assert.equal(result.deleted, 7);
  assert.equal(result.bytesFreed, 70_000);
  assert.ok(await totalSize(dir.path) <= 60_000);
  const left = await names(dir.path);
  const expected = [
    "core.log",
    ...[1, 2, 3, 4].map((i) => loguru("core", NOW - i * 6 * HOUR)),
    "worker.log",
    loguru("worker", NOW - 13 * HOUR),
  ].sort();
  assert.deepEqual(left, expected);
  assert.deepEqual(await Deno.readFile(join(dir.path, "core.log")), liveBefore);
  const plan = result.directories[0].plan;
  assert.ok(plan.actions.every((a) => a.reason === "oldest while over max_size 60KB"));
  assert.equal(plan.overBudget, 0);
});

Deno.test("compress_after gzips rotated files to .gz that decompress to the original bytes, with mtime and mode kept", async () => {
  await using dir = await tempDir("astron-hk-gzip-");
  const d = dir.path;
  const originals = new Map<string, Uint8Array>();
  const mtimes = new Map<string, number>();
  const keep = async (name: string, mtime: number, size: number) => {
    originals.set(name, await put(d, name, mtime, size));
    mtimes.set(name, mtime);
  };
  await keep("core.log", NOW - 60_000, 4000);
  await keep(loguru("core", NOW - 2 * HOUR), NOW - 2 * HOUR, 20_000); // too young
  await keep(loguru("core", NOW - 30 * HOUR), NOW - 30 * HOUR, 20_000);
  await keep(loguru("core", NOW - 54 * HOUR), NOW - 54 * HOUR, 20_000);
  await keep(loguru("old", NOW - 72 * HOUR), NOW - 72 * HOUR, 20_000); // newest of "old.log"
  await keep(loguru("old", NOW - 96 * HOUR), NOW - 96 * HOUR, 20_000);
  await keep("access.log", NOW - 60_000, 3000);
  await keep("access.log.1", NOW - 26 * HOUR, 20_000);
  await keep("access.log.2.gz", NOW - 50 * HOUR, 500); // compressed already
  await keep("access.log-20261120", NOW - 7 * DAY, 20_000);
  const [entry] = entries([{ path: d, compress_after: "1d", keep_min: 1 }]);
  const result = await runEntry(entry, { now: NOW });
  assert.deepEqual(result.errors, []);
  const compressed = [
    loguru("core", NOW - 30 * HOUR),
    loguru("core", NOW - 54 * HOUR),
    loguru("old", NOW - 96 * HOUR),
    "access.log-20261120",
  ];
  assert.equal(result.compressed, compressed.length);
  assert.deepEqual(result.directories[0].plan.kept.map((k) => `${k.name}: ${k.reason}`), [
    `${loguru("old", NOW - 72 * HOUR)}: the newest file of its series`,
    "access.log.1: a numbered rotation: its rotator renames it, so it is not gzipped here",
  ]);
  assert.equal(result.deleted, 0);
  const expected = [...originals.keys()].map((n) => compressed.includes(n) ? `${n}.gz` : n).sort();
  assert.deepEqual(await names(d), expected);
  for (const name of compressed) {
    const gz = join(d, `${name}.gz`);
    using file = await Deno.open(gz);
    const plain = await new Response(
      file.readable.pipeThrough(new DecompressionStream("gzip")),
    ).bytes();
    assert.deepEqual(plain, originals.get(name), name);
    const st = await Deno.stat(gz);
    assert.equal((st.mode ?? 0) & 0o777, 0o640, name);
    assert.equal(st.mtime?.getTime(), mtimes.get(name), name);
  }
  const freed = result.bytesFreed;
  let gzBytes = 0;
  for (const name of compressed) gzBytes += (await Deno.stat(join(d, `${name}.gz`))).size;
  assert.equal(freed, compressed.length * 20_000 - gzBytes);
});

Deno.test("max_age deletes old files but keeps the keep_min newest of each series", async () => {
  await using dir = await tempDir("astron-hk-age-");
  const d = dir.path;
  await put(d, "core.log", NOW - 60_000, 1000);
  for (let i = 31; i <= 35; i++) await put(d, loguru("core", NOW - i * DAY), NOW - i * DAY, 1000);
  await put(d, loguru("lonely", NOW - 100 * DAY), NOW - 100 * DAY, 1000);
  await put(d, "access.log", NOW - 60_000, 1000);
  await put(d, "access.log.1", NOW - 2 * DAY, 1000);
  await put(d, "access.log.2.gz", NOW - 45 * DAY, 1000);
  const [entry] = entries([{ path: d, max_age: "30d", keep_min: 3 }]);
  const result = await runEntry(entry, { now: NOW });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(
    result.directories[0].done.map((o) => `${o.action} ${o.name} ${o.ok}`).sort(),
    [33, 34, 35].map((i) => `delete ${loguru("core", NOW - i * DAY)} true`).sort(),
  );
  const left = await names(d);
  assert.ok(left.includes(loguru("core", NOW - 31 * DAY)));
  assert.ok(left.includes(loguru("core", NOW - 32 * DAY)));
  assert.ok(left.includes(loguru("lonely", NOW - 100 * DAY)), "the newest of its series");
  assert.ok(left.includes("access.log.2.gz"), "one of the 3 newest of access.log");
  assert.equal(left.length, 7);
});

Deno.test("a file another process holds open for writing is never touched, even over the budget", async () => {
  await using dir = await tempDir("astron-hk-open-");
  const d = dir.path;
  const held = loguru("core", NOW - 40 * DAY);
  const free = loguru("core", NOW - 41 * DAY);
  await put(d, "core.log", NOW - 60_000, 1000);
  await put(d, held, NOW - 40 * DAY, 5000);
  await put(d, free, NOW - 41 * DAY, 5000);
  await using _holder = await hold([join(d, held)]);
  const before = (await snapshot(d)).find((l) => l.startsWith(held));
  const [entry] = entries([{
    path: d,
    max_age: "30d",
    compress_after: "1d",
    keep_min: 1,
  }]);
  const result = await runEntry(entry, { now: NOW });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.directories[0].done.map((o) => `${o.action} ${o.name}`), [
    `delete ${free}`,
  ]);
  assert.deepEqual(result.directories[0].plan.kept, [{
    name: held,
    size: 5000,
    mtime: NOW - 40 * DAY,
    reason: "open for writing by a process",
  }]);
  const [tight] = entries([{ path: d, max_size: "1B", keep_min: 1 }]);
  const again = await runEntry(tight, { now: NOW });
  assert.deepEqual(again.directories[0].plan.actions, []);
  assert.equal(again.directories[0].plan.overBudget, 6000 - 1);
  assert.equal((await snapshot(d)).find((l) => l.startsWith(held)), before);
  assert.deepEqual(await names(d), ["core.log", held].sort());
});

Deno.test("the budget counts files as gzip really leaves them", async (t) => {
  await t.step("compressible logs: gzip alone gets within max_size, nothing deleted", async () => {
    await using dir = await tempDir("astron-hk-ratio-");
    await put(dir.path, "core.log", NOW - 60_000, 1000);
    for (let i = 2; i <= 11; i++) {
      await put(dir.path, loguru("core", NOW - i * DAY), NOW - i * DAY, 100_000);
    }
    const [entry] = entries([{
      path: dir.path,
      max_size: "500KB",
      compress_after: "1d",
      keep_min: 1,
    }]);
    const result = await runEntry(entry, { now: NOW });
    assert.deepEqual(result.errors, []);
    assert.equal(result.compressed, 10);
    assert.equal(result.deleted, 0);
    assert.ok(await totalSize(dir.path) <= 500_000);
  });
  await t.step(
    "incompressible files: deleted oldest first after gzip, until within max_size",
    async () => {
      await using dir = await tempDir("astron-hk-random-");
      await put(dir.path, "core.log", NOW - 60_000, 1000);
      for (let i = 2; i <= 11; i++) {
        const noise = new Uint8Array(100_000);
        for (let o = 0; o < noise.length; o += 65_536) {
          crypto.getRandomValues(noise.subarray(o, o + 65_536));
        }
        await put(dir.path, loguru("core", NOW - i * DAY), NOW - i * DAY, noise);
      }
      const [entry] = entries([{
        path: dir.path,
        max_size: "500KB",
        compress_after: "1d",
        keep_min: 1,
      }]);
      const result = await runEntry(entry, { now: NOW });
      assert.deepEqual(result.errors, []);
      assert.equal(result.compressed, 10);
      assert.ok(result.deleted >= 5, `deleted ${result.deleted}`);
      assert.ok(await totalSize(dir.path) <= 500_000);
      const left = await names(dir.path);
      assert.ok(left.includes("core.log"));
      assert.ok(left.includes(`${loguru("core", NOW - 2 * DAY)}.gz`), "the newest rotation stays");
      assert.ok(!left.includes(`${loguru("core", NOW - 11 * DAY)}.gz`), "the oldest went first");
    },
  );
});

/** Run the command object in its own process, as users see it. */
async function housekeeping(args: string[], cwd: string) {
  const script = join(cwd, "hk.ts");
  const module = new URL("../src/cli/housekeeping.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { housekeepingCommand } from ${JSON.stringify(module)};\n` +
      `Deno.exit(await housekeepingCommand.run(Deno.args));\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", "--config", join(ROOT, "deno.json"), script, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("housekeeping --dry-run prints the plan and changes nothing; without it the budget is kept", async () => {
  await using work = await tempDir("astron-hk-cli-");
  const logs = join(work.path, "logs");
  await Deno.mkdir(logs);
  const now = Date.now();
  await loguruDir(logs, now);
  await using _live = await hold([join(logs, "core.log")]);
  const config = join(work.path, "astron-watch.yaml");
  await Deno.writeTextFile(
    config,
    `housekeeping:\n  - path: ${logs}\n    max_size: 60KB\n    keep_min: 2\n`,
  );
  const before = await snapshot(logs);
  const dry = await housekeeping(["--config", config, "--dry-run"], work.path);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(await snapshot(logs), before);
  assert.ok(
    dry.stdout.startsWith(`${logs}: dry run, nothing touched (max_size 60KB, keep_min 2)\n`),
  );
  assert.match(dry.stdout, /^ACTION +FILE +SIZE +AGE +REASON$/m);
  const oldest = loguru("worker", now - 49 * HOUR);
  assert.match(
    dry.stdout,
    new RegExp(
      `^delete +${oldest.replaceAll(".", "\\.")} +10KB +2\\.04d +oldest while over max_size 60KB$`,
      "m",
    ),
  );
  assert.equal(dry.stdout.match(/^delete /gm)?.length, 7);
  assert.match(
    dry.stdout,
    /^to compress: 0 \(0B -> about 0B\); to delete: 7 \(70KB\); 127KB -> about 57KB of max_size 60KB$/m,
  );
  const json = await housekeeping(["--config", config, "--dry-run", "--json"], work.path);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.dryRun, true);
  assert.equal(parsed.entries[0].directories[0].plan.actions.length, 7);
  assert.deepEqual(await snapshot(logs), before);

  const real = await housekeeping(["--config", config], work.path);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /^deleted +/m);
  assert.match(
    real.stdout,
    /^compressed: 0, deleted: 7, failed: 0; freed 70KB; 127KB -> 57KB of max_size 60KB$/m,
  );
  assert.ok(await totalSize(logs) <= 60_000);
  assert.ok((await names(logs)).includes("core.log"));

  const again = await housekeeping(["--config", config], work.path);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to do \(7 files, 57KB of max_size 60KB\)/);
});

Deno.test("housekeeping exits 1 naming a directory that is not there, 2 on a bad config", async () => {
  await using work = await tempDir("astron-hk-cli-bad-");
  const config = join(work.path, "c.yaml");
  await Deno.writeTextFile(config, `housekeeping:\n  - path: ${work.path}/nope\n    max_age: 7d\n`);
  const missing = await housekeeping(["--config", config], work.path);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr.trim(),
    `astron-watch housekeeping: ${work.path}/nope: no such directory`,
  );
  await Deno.writeTextFile(config, `housekeeping:\n  - path: /x\n    max_age: forever\n`);
  const bad = await housekeeping(["--config", config], work.path);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr.trim(),
    'housekeeping[0].max_age: "forever" is not a duration (like 500ms, 15s, 1h, 7d)',
  );
});

Deno.test("the housekeeper's first pass for a new entry is a dry run; after a restart it acts", async () => {
  await using work = await tempDir("astron-hk-component-");
  const logs = join(work.path, "logs");
  const state = join(work.path, "data", "housekeeping");
  await Deno.mkdir(logs);
  await loguruDir(logs, NOW);
  const config = entries([{ path: logs, max_size: "60KB", keep_min: 2, interval: "1h" }]);
  const before = await snapshot(logs);

  const sink1 = new MemorySink();
  const first = new Housekeeper({
    entries: config,
    dir: state,
    logger: new Logger({ sinks: [sink1] }),
    now: () => NOW,
  });
  await first.start();
  await first.idle();
  await first.stop();
  assert.deepEqual(await snapshot(logs), before);
  const s1 = first.stats();
  assert.equal(s1.entries[0].lastDryRun, true);
  assert.equal(s1.entries[0].lastRun, NOW);
  assert.equal(s1.entries[0].lastPlan[0].plan.actions.length, 7);
  assert.equal(s1.bytesFreed, 0);
  assert.equal(sink1.records.filter((r) => r.msg === "would delete").length, 7);
  assert.ok(sink1.records.some((r) => String(r.msg).startsWith("housekeeping dry run")));
  const saved = JSON.parse(await Deno.readTextFile(join(state, "state.json")));
  assert.deepEqual(Object.keys(saved.seen), [`${logs}\t*`]);

  const sink2 = new MemorySink();
  const second = new Housekeeper({
    entries: config,
    dir: state,
    logger: new Logger({ sinks: [sink2] }),
    now: () => NOW,
  });
  await second.start();
  await second.idle();
  await second.stop();
  const s2 = second.stats();
  assert.equal(s2.entries[0].lastDryRun, false);
  assert.equal(s2.bytesFreed, 70_000);
  assert.equal(s2.filesDeleted, 7);
  assert.equal(s2.entries[0].filesDeleted, 7);
  assert.deepEqual(s2.entries[0].errors, []);
  assert.ok(await totalSize(logs) <= 60_000);
  assert.equal(sink2.records.filter((r) => r.msg === "deleted").length, 7);
  assert.ok(sink2.records.every((r) => r.component === "housekeeping"));
});

Deno.test("open files are found through /proc: writers yes, readers no", async () => {
  await using dir = await tempDir("astron-hk-proc-");
  await put(dir.path, "written.log", NOW, 10);
  await put(dir.path, "read.log", NOW, 10);
  await put(dir.path, "idle.log", NOW, 10);
  await using _holder = await hold([join(dir.path, "written.log")], [join(dir.path, "read.log")]);
  const r = await findOpenForWriting([dir.path]);
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual([...r.writing.get(dir.path)!], ["written.log"]);
});

Deno.test("bad housekeeping values give one problem each, naming the path", async (t) => {
  const cases: { name: string; entry: unknown; path: string; message: string }[] = [
    {
      name: "a size that is not one",
      entry: { path: "/x", max_size: "lots" },
      path: "housekeeping[0].max_size",
      message: '"lots" is not a size (like 10MB, 512KiB, 2GB)',
    },
    {
      name: "an age that is not a duration",
      entry: { path: "/x", max_age: "forever" },
      path: "housekeeping[0].max_age",
      message: '"forever" is not a duration (like 500ms, 15s, 1h, 7d)',
    },
    {
      name: "compress_after that is not a duration",
      entry: { path: "/x", compress_after: "soon" },
      path: "housekeeping[0].compress_after",
      message: '"soon" is not a duration (like 500ms, 15s, 1h, 7d)',
    },
    {
      name: "keep_min below 1",
      entry: { path: "/x", max_size: "5GB", keep_min: 0 },
      path: "housekeeping[0].keep_min",
      message: "0 is out of range (1 to 1000000)",
    },
    {
      name: "no path",
      entry: { max_size: "5GB" },
      path: "housekeeping[0].path",
      message: "is required (a directory or a glob of directories)",
    },
    {
      name: "nothing to do",
      entry: { path: "/x", keep_min: 3 },
      path: "housekeeping[0]",
      message: "nothing to do: set max_size, max_age or compress_after",
    },
    {
      name: "a misspelt key",
      entry: { path: "/x", max_size: "5GB", maxage: "30d" },
      path: "housekeeping[0].maxage",
      message: 'unknown key (did you mean "max_age"?)',
    },
    {
      name: "a pattern with a slash",
      entry: { path: "/x", max_size: "5GB", pattern: "a/*.log" },
      path: "housekeeping[0].pattern",
      message: '"a/*.log" is not a glob of file names (like *.log)',
    },
    {
      name: "an interval too short",
      entry: { path: "/x", max_size: "5GB", interval: "10ms" },
      path: "housekeeping[0].interval",
      message: '"10ms" is too short (at least 1000ms)',
    },
    {
      name: "a path instead of a mapping",
      entry: "/opt/core/logs",
      path: "housekeeping[0]",
      message:
        'expected a mapping with path and max_size, max_age or compress_after, got "/opt/core/logs"',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const r = validateConfig({ housekeeping: [c.entry] });
      assert.ok(!r.ok);
      assert.deepEqual(r.problems, [{ path: c.path, message: c.message }]);
    });
  }
  await t.step("three bad values, three problems; a second entry for the same path", () => {
    const r = validateConfig({
      housekeeping: [
        { path: "/opt/core/logs", max_size: "-1", max_age: "1 month", keep_min: "x" },
        { path: "/opt/core/logs/", max_age: "30d" },
      ],
    });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => p.path), [
      "housekeeping[0].max_size",
      "housekeeping[0].max_age",
      "housekeeping[0].keep_min",
      "housekeeping[1].path",
    ]);
    assert.equal(r.problems[3].message, '"/opt/core/logs" is already kept by housekeeping[0]');
  });
  await t.step("the issue's example, with defaults and durations past a year", () => {
    const [e] = entries([{
      path: "/opt/core/logs",
      max_size: "5GB",
      max_age: "2y",
      compress_after: "1d",
    }]);
    assert.equal(e.max_size, 5e9);
    assert.equal(e.max_age, 2 * 365 * DAY);
    assert.equal(e.compress_after, DAY);
    assert.equal(e.keep_min, 3);
    assert.equal(e.interval, HOUR);
    assert.equal(e.pattern, "*");
  });
});
