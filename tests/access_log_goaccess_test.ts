/**
 * `astron-watch access-log report` against GoAccess (the baseline the issue
 * names) on the same nginx `main` log: requests, per-status counts and bytes,
 * bandwidth and unique visitors must agree. Also the text and html formats
 * and bad input, through the command.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { mainLines } from "./fixtures/nginx_log.ts";
import type { AccessReport } from "../src/access/report_schema.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

/** The `goaccess` binary on PATH, or undefined. */
function findGoaccess(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin").split(":")) {
    const path = join(dir || ".", "goaccess");
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
const GOACCESS = findGoaccess();

/** GoAccess's spelling of nginx's `main` format (the last field, X-Forwarded-For, skipped). */
const GOACCESS_MAIN = [
  `--log-format=%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^`,
  "--date-format=%d/%b/%Y",
  "--time-format=%T",
];

/** The part of GoAccess's JSON output compared here. */
interface GoaccessJson {
  general: {
    total_requests: number;
    valid_requests: number;
    failed_requests: number;
    unique_visitors: number;
    bandwidth: number;
  };
  status_codes: {
    data: { items?: { data: string; hits: { count: number }; bytes: { count: number } }[] }[];
  };
}

/** Run `astron-watch ARGS` from the repo root; `stdin` is a file piped in whole. */
async function astron(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "main.ts", ...args],
    cwd: ROOT,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const file = await Deno.open(stdin);
    await file.readable.pipeTo(child.stdin); // closes both
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** `report FILES --format json`, parsed. */
async function ourReport(
  files: string[],
  stdin?: string,
  extra: string[] = [],
): Promise<AccessReport> {
  const r = await astron(["access-log", "report", ...files, "--format", "json", ...extra], stdin);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** GoAccess over FILES, its JSON report parsed. */
async function goaccess(dir: string, files: string[], extra: string[] = []): Promise<GoaccessJson> {
  const out = join(dir, `goaccess-${crypto.randomUUID()}.json`);
  const r = await new Deno.Command(GOACCESS!, {
    args: [...files, ...GOACCESS_MAIN, ...extra, "-o", out],
    // Not a pipe: GoAccess reads a piped stdin as one more log.
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, decoder.decode(r.stderr));
  return JSON.parse(await Deno.readTextFile(out));
}

/** GoAccess's per-status hits and bytes, keyed by the code ("200 - OK: ..." -> 200). */
function goaccessStatuses(g: GoaccessJson) {
  const out = new Map<number, { requests: number; bytes: number }>();
  for (const group of g.status_codes.data) {
    for (const item of group.items ?? []) {
      out.set(Number(item.data.slice(0, 3)), {
        requests: item.hits.count,
        bytes: item.bytes.count,
      });
    }
  }
  return out;
}

function ourStatuses(r: AccessReport) {
  return new Map(r.statuses.map((s) => [s.status, { requests: s.requests, bytes: s.bytes }]));
}

/** Lines neither tool can parse, placed mid-file (GoAccess checks the first 10 lines for a format). */
const GARBAGE = [
  "this is not an access log line",
  '10.0.0.1 - - [not a time] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0" "-"',
  '10.0.0.1 - - [20/Nov/2026:09:00:00 +0800] "GET / HTTP/1.1" 2000 5 "-" "curl/8.5.0" "-"',
];

/** Distinct (day as logged, address, user agent) of `lines`, optionally without 4xx answers. */
function visitorsOf(lines: string[], skip4xx: boolean): number {
  const re = /^(\S+) - \S+ \[([^:]+):[^\]]+\] "[^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)" "[^"]*"$/;
  const keys = new Set<string>();
  for (const l of lines) {
    const m = re.exec(l);
    if (!m) continue;
    if (skip4xx && m[3].startsWith("4")) continue;
    keys.add(`${m[2]}|${m[1]}|${m[4]}`);
  }
  return keys.size;
}

/**
 * Two logs in a temp dir: `a.log`, 20,000 lines within a quarter of an hour
 * with three unparsable lines in the middle, and `b.log` (also as
 * `b.log.gz`), 20,000 lines over three calendar days (visitors are per day).
 */
async function makeLogs() {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-goaccess-" });
  const a = [...mainLines(20_000, 7)];
  a.splice(10_000, 0, ...GARBAGE);
  const b = [...mainLines(20_000, 11, Date.UTC(2026, 10, 20), 10_000)];
  await Deno.writeTextFile(join(dir, "a.log"), a.join("\n") + "\n");
  await Deno.writeTextFile(join(dir, "b.log"), b.join("\n") + "\n");
  const gz = await Deno.open(join(dir, "b.log.gz"), { write: true, create: true });
  await ReadableStream.from([new TextEncoder().encode(b.join("\n") + "\n")])
    .pipeThrough(new CompressionStream("gzip"))
    .pipeTo(gz.writable);
  return {
    dir,
    a,
    b,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function assertSameCounts(ours: AccessReport, theirs: GoaccessJson) {
  const g = theirs.general;
  assert.equal(ours.requests, g.valid_requests, "requests vs GoAccess valid_requests");
  assert.equal(ours.lines.total, g.total_requests, "lines read vs GoAccess total_requests");
  assert.equal(ours.lines.unparsed, g.failed_requests, "unparsed vs GoAccess failed_requests");
  assert.equal(ours.bytes, g.bandwidth, "bytes vs GoAccess bandwidth");
  assert.deepEqual(ourStatuses(ours), goaccessStatuses(theirs), "per-status requests and bytes");
}

Deno.test({
  name: "access-log report agrees with GoAccess on requests, statuses, bytes and visitors" +
    (GOACCESS ? "" : " (ignored: goaccess is not on PATH; apt-get install goaccess)"),
  ignore: GOACCESS === undefined,
  async fn(t) {
    await using logs = await makeLogs();
    const a = join(logs.dir, "a.log");
    const b = join(logs.dir, "b.log");
    const bgz = join(logs.dir, "b.log.gz");

    // GoAccess 1.7 as Debian builds it has no zlib: it cannot read b.log.gz
    // (only `zcat | goaccess -`), so it reads b.log, the same lines unzipped.
    const ours = await ourReport([a, bgz]);
    const theirs = await goaccess(logs.dir, [a, b]);

    await t.step("a plain and a gzipped file", () => {
      assert.equal(ours.requests, 40_000);
      assert.equal(ours.lines.unparsed, GARBAGE.length);
      assertSameCounts(ours, theirs);
      assert.ok(ours.statuses.length >= 9, "every status of the fixture is seen");
    });

    await t.step("unique visitors", () => {
      // Both count distinct (day as logged, client, user agent) and, as
      // GoAccess does by default, leave requests answered 4xx out. The 53-bit
      // hashes `visitors_note` states could only make ours lower, by a
      // collision (about 1e-7 here).
      assert.match(ours.visitors_note, /GoAccess/);
      assert.equal(ours.visitors, theirs.general.unique_visitors);
      const lines = [...logs.a, ...logs.b];
      assert.equal(ours.visitors, visitorsOf(lines, true));
      assert.ok(visitorsOf(lines, false) > ours.visitors, "the fixture has 4xx-only visitors");
    });

    await t.step("stdin (-), gzipped", async () => {
      const fromStdin = await ourReport(["-"], bgz);
      const theirsB = await goaccess(logs.dir, [b]);
      assertSameCounts(fromStdin, theirsB);
      assert.equal(fromStdin.requests, 20_000);
      assert.equal(fromStdin.visitors, theirsB.general.unique_visitors);
    });
  },
});

Deno.test("access-log report --jobs 3: workers' parts absorbed in order give the one-pass report", async () => {
  await using logs = await makeLogs();
  const files = ["a.log", "b.log.gz", "b.log"].map((f) => join(logs.dir, f));
  const one = await ourReport(files, undefined, ["--jobs", "1"]);
  const three = await ourReport(files, undefined, ["--jobs", "3"]);
  assert.equal(three.requests, 60_000);
  assert.equal(three.lines.total, 60_000 + GARBAGE.length, "no line lost or cut at a part's edge");
  // Past 8,000 keys a list is pruned, in each part on its own: the counts
  // of clients and paths are bounded, not exact. Each must lie within its bound.
  const exact = { clients: new Map<string, number>(), paths: new Map<string, number>() };
  for (const l of [...logs.a, ...logs.b, ...logs.b]) {
    const m = /^(\S+) - \S+ \[[^\]]+\] "\S+ ([^ ?]+)/.exec(l);
    if (!m || GARBAGE.includes(l)) continue;
    exact.clients.set(m[1], (exact.clients.get(m[1]) ?? 0) + 1);
    exact.paths.set(m[2], (exact.paths.get(m[2]) ?? 0) + 1);
  }
  for (const list of ["clients", "paths"] as const) {
    assert.ok(exact[list].size > 8_000, `the fixture has enough ${list} to prune`);
    for (const report of [one, three]) {
      assert.ok(report.top[list][0].error > 0);
      for (const e of report.top[list]) {
        const n = exact[list].get(e.value) ?? 0;
        assert.ok(n <= e.requests && e.requests <= n + e.error, `${n} vs ${JSON.stringify(e)}`);
      }
    }
  }
  const { generated_at: _a, top: { clients: _c, paths: _p, ...sequentialTop }, ...sequential } =
    one;
  const { generated_at: _b, top: { clients: _d, paths: _q, ...parallelTop }, ...parallel } = three;
  assert.deepEqual(parallel, sequential);
  assert.deepEqual(parallelTop, sequentialTop);
});

Deno.test("access-log report of one .gz file or stdin, its lines handed to workers in turn: the same counts as one pass", async () => {
  await using logs = await makeLogs();
  const bgz = join(logs.dir, "b.log.gz");
  const a = join(logs.dir, "a.log");
  // Counts, not samples: a streamed worker's samples are the first of its share.
  const counts = (r: AccessReport) => ({
    lines: { ...r.lines, unparsed_samples: r.lines.unparsed_samples.length },
    requests: r.requests,
    bytes: r.bytes,
    visitors: r.visitors,
    statuses: r.statuses,
    methods: r.methods,
    routes: r.routes,
    hours: r.hours,
    bursts: r.bursts,
    user_agents: r.top.user_agents,
    suspicious: r.suspicious.map((g) => [g.reason, g.requests, g.clients]),
  });
  const one = await ourReport([bgz], undefined, ["--jobs", "1"]);
  const three = await ourReport([bgz], undefined, ["--jobs", "3"]);
  assert.equal(three.requests, 20_000);
  assert.deepEqual(counts(three), counts(one));
  const piped = await ourReport(["-"], a, ["--jobs", "2"]);
  const whole = await ourReport([a], undefined, ["--jobs", "1"]);
  assert.equal(piped.lines.unparsed, GARBAGE.length, "no line cut at a chunk's edge");
  assert.deepEqual(counts(piped), counts(whole));
});

Deno.test("access-log report --format text and html through the command", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-access-formats-" });
  try {
    const file = join(dir, "access.log");
    await Deno.writeTextFile(file, [...mainLines(2_000, 5)].join("\n") + "\n");

    await t.step("text", async () => {
      const r = await astron(["access-log", "report", file, "--format", "text"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /requests\s+2,000/);
      assert.equal(r.stderr, "");
    });

    await t.step("html", async () => {
      const r = await astron(["access-log", "report", file, "--format", "html"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^<!DOCTYPE html>/);
      assert.match(
        r.stdout,
        /<meta http-equiv="Content-Security-Policy" content="default-src 'none'[^"]*">/,
      );
      assert.match(r.stdout, /<\/html>\s*$/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("access-log report: bad input is one line on stderr, no stack", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-access-bad-" });
  try {
    const file = join(dir, "access.log");
    await Deno.writeTextFile(file, [...mainLines(10, 5)].join("\n") + "\n");
    const oneLine = (stderr: string) => {
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.doesNotMatch(stderr, /^\s+at /m);
      return lines[0];
    };

    await t.step("an unknown --log-format variable: exit 2, naming it", async () => {
      const r = await astron([
        "access-log",
        "report",
        file,
        "--log-format",
        '$remote_addr [$time_local] "$request" $status $no_such_variable',
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(oneLine(r.stderr), /\$no_such_variable/);
      assert.equal(r.stdout, "");
    });

    await t.step("a missing file: exit 1", async () => {
      const missing = join(dir, "missing.log");
      const r = await astron(["access-log", "report", file, missing, "--format", "json"]);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(oneLine(r.stderr).includes(missing), r.stderr);
      assert.equal(r.stdout, "");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
