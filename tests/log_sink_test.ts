import assert from "node:assert/strict";
import { join } from "node:path";
import { RotatingFileSink } from "../src/log/rotating_file_sink.ts";
import { delay, fileSize, readAllLines, readLogFiles, waitFor } from "./support/log_files.ts";

const encoder = new TextEncoder();

async function tempLog(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "astron-log-" });
  return { dir, path: join(dir, "app.log") };
}

/** A small tmpfs to fill up, when this machine lets us mount one (root, Linux). */
async function mountTmpfs(dir: string, size: string): Promise<string | undefined> {
  try {
    const { success, stderr } = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stdout: "null",
      stderr: "piped",
    }).output();
    return success ? undefined : new TextDecoder().decode(stderr).trim() || "mount failed";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function umount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
}

const tmpfsProbe = await Deno.makeTempDir({ prefix: "astron-tmpfs-probe-" });
const noTmpfs = await mountTmpfs(tmpfsProbe, "64k");
if (noTmpfs === undefined) await umount(tmpfsProbe);
await Deno.remove(tmpfsProbe);
if (noTmpfs) console.warn(`full-disk test skipped: cannot mount a tmpfs here (${noTmpfs})`);

Deno.test("concurrent writers through rotation leave every line once, whole, in per-writer order", async () => {
  const { dir, path } = await tempLog();
  const maxSize = 16_384;
  const sink = new RotatingFileSink({
    path,
    maxSize,
    keep: 100_000,
    flushInterval: 5,
    maxBuffer: 256 * 1024,
  });
  const writers = 16;
  const perWriter = 1500;
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; i < perWriter; i++) {
      const line = JSON.stringify({ w, i, pad: "x".repeat((w * 7 + i) % 120) }) + "\n";
      if (i % 3 === 0) sink.writeLines(encoder.encode(line), 1);
      else sink.write(line, i % 97 === 0 ? "error" : "info");
      if (i % 10 === 9) await (sink.pending > 64 * 1024 ? sink.drain() : delay(0));
    }
  }));
  await sink.close();

  const stats = sink.stats();
  assert.equal(stats.dropped_lines, 0);
  assert.equal(stats.written_lines, writers * perWriter);
  assert.ok(stats.rotations > 20, `only ${stats.rotations} rotations`);
  const files = await readLogFiles(path);
  assert.equal(files.length, stats.rotations + 1);
  for (const f of files) {
    assert.ok(f.text.length <= maxSize, `${f.path} has ${f.text.length} bytes`);
    assert.ok(f.text.endsWith("\n"), `${f.path} ends mid-line`);
  }
  const next = new Array<number>(writers).fill(0);
  for (const line of await readAllLines(path)) {
    const { w, i } = JSON.parse(line); // throws on a torn line
    assert.equal(i, next[w], `writer ${w}: expected line ${next[w]}, got ${i}`);
    next[w]++;
  }
  assert.deepEqual(next, new Array(writers).fill(perWriter));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("lines wait for the flush interval but an error line is written at once", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, flushInterval: 60_000 });
  sink.write("quiet info\n", "info");
  await delay(100);
  assert.equal(await fileSize(path), -1);
  sink.write("loud error\n", "error");
  await waitFor("the error line", async () => (await fileSize(path)) > 0);
  assert.equal(await Deno.readTextFile(path), "quiet info\nloud error\n");
  await sink.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("buffered lines reach the file within the flush interval", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, flushInterval: 50 });
  sink.write("one", "info");
  await waitFor("the flush tick", async () => (await fileSize(path)) > 0, 1000);
  assert.equal(await Deno.readTextFile(path), "one\n");
  await sink.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a file deleted under the sink is recreated and later lines land in it", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, flushInterval: 20 });
  sink.write("before\n", "info");
  await sink.flush();
  await Deno.remove(path);
  // The sink looks at its file at most once per flush interval: a line in
  // between goes to the deleted file. Keep writing until the new one shows.
  let n = 0;
  await waitFor("the recreated file", async () => {
    sink.write(`after ${n++}\n`, "info");
    await sink.flush();
    return (await fileSize(path)) > 0;
  });
  assert.match(await Deno.readTextFile(path), /^(after \d+\n)+$/);
  assert.equal(sink.stats().reopens, 1);
  await sink.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reopen after the file was moved (SIGHUP) sends later lines to a fresh file", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, flushInterval: 60_000 });
  sink.write("first\n", "info");
  await sink.flush();
  await Deno.rename(path, `${path}.moved`);
  sink.write("second\n", "info");
  await sink.reopen();
  sink.write("third\n", "info");
  await sink.close();
  assert.equal(await Deno.readTextFile(`${path}.moved`), "first\n");
  assert.equal(await Deno.readTextFile(path), "second\nthird\n");
  assert.equal(sink.stats().reopens, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a deleted log directory is reported, recreated, and no line is lost", async () => {
  const { dir } = await tempLog();
  const path = join(dir, "logs", "app.log");
  const sink = new RotatingFileSink({ path, flushInterval: 20 });
  sink.write("before\n", "info");
  await sink.flush();
  await Deno.remove(join(dir, "logs"), { recursive: true });
  sink.write("after\n", "info");
  await sink.flush();
  assert.equal(await Deno.readTextFile(path), "after\n");
  const stats = sink.stats();
  assert.ok(stats.write_errors >= 1);
  assert.match(stats.last_error ?? "", /No such file or directory/);
  assert.equal(stats.dropped_lines, 0);
  await sink.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "a full disk is counted and survived, and writing resumes when space returns",
  ignore: noTmpfs !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "astron-full-" });
    assert.equal(await mountTmpfs(dir, "64k"), undefined);
    try {
      await Deno.writeFile(join(dir, "filler"), new Uint8Array(60 * 1024));
      const path = join(dir, "app.log");
      const sink = new RotatingFileSink({ path, flushInterval: 20 });
      const line = (i: number) => JSON.stringify({ i, pad: "y".repeat(80) }) + "\n";
      for (let i = 0; i < 200; i++) sink.write(line(i), "info");
      await sink.flush();
      const full = sink.stats();
      assert.ok(full.write_errors >= 1, "no write error counted");
      assert.ok(full.dropped_lines > 0, "no line counted as dropped");
      assert.match(full.last_error ?? "", /No space left/);
      const kept = await readAllLines(path);
      assert.equal(kept.length + full.dropped_lines, 200);
      kept.forEach((l, i) => assert.equal(JSON.parse(l).i, i)); // whole lines, a prefix

      await Deno.remove(join(dir, "filler"));
      for (let i = 200; i < 210; i++) sink.write(line(i), "info");
      await waitFor(
        "writing to resume",
        async () => (await readAllLines(path)).length > kept.length,
      );
      await sink.close();
      const after = await readAllLines(path);
      assert.deepEqual(after.slice(kept.length).map((l) => JSON.parse(l).i), [
        ...Array.from({ length: 10 }, (_, k) => 200 + k),
      ]);
    } finally {
      await umount(dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a stalled disk makes the sink drop and count lines instead of growing memory", async () => {
  const { dir } = await tempLog();
  const path = join(dir, "stalled.fifo");
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(made.success, "mkfifo failed");
  const maxBuffer = 64 * 1024;
  const sink = new RotatingFileSink({ path, maxSize: 0, flushInterval: 5, maxBuffer });
  const total = 5000;
  let peak = 0;
  for (let i = 0; i < total; i++) {
    sink.write(`${JSON.stringify({ i, pad: "z".repeat(100) })}\n`, "info");
    peak = Math.max(peak, sink.pending);
    if (i % 100 === 99) await delay(1);
  }
  assert.ok(peak <= maxBuffer, `buffer grew to ${peak}`);
  const stalled = sink.stats();
  assert.ok(stalled.dropped_lines > 0, "nothing dropped while stalled");

  // The disk comes back: a reader drains the FIFO and the sink catches up.
  const reader = await Deno.open(path, { read: true });
  const received = new Response(reader.readable).text();
  sink.write("after the stall\n", "error");
  await sink.close();
  const lines = (await received).split("\n").filter(Boolean);
  const stats = sink.stats();
  assert.equal(lines.at(-1), "after the stall");
  assert.equal(lines.length, stats.written_lines);
  assert.equal(stats.written_lines + stats.dropped_lines, total + 1);
  let last = -1;
  for (const l of lines.slice(0, -1)) {
    const { i } = JSON.parse(l);
    assert.ok(i > last, "lines out of order");
    last = i;
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("gzip rotated files decompress to the original lines", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, maxSize: 2000, keep: 50, compress: true });
  const sent = Array.from({ length: 300 }, (_, i) => `line ${i} ${"g".repeat(i % 40)}`);
  for (const l of sent) sink.write(l + "\n", "info");
  await sink.close();
  const files = await readLogFiles(path);
  const rotated = files.filter((f) => f.index > 0);
  assert.ok(rotated.length >= 4, `only ${rotated.length} rotated files`);
  for (const f of rotated) assert.ok(f.path.endsWith(".gz"), `${f.path} is not gzipped`);
  assert.deepEqual(await readAllLines(path), sent);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("keep N leaves only the newest N rotated files", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, maxSize: 1000, keep: 3 });
  const sent = Array.from(
    { length: 200 },
    (_, i) => `line ${String(i).padStart(4, "0")} ${"k".repeat(30)}`,
  );
  for (const l of sent) sink.write(l + "\n", "info");
  await sink.close();
  const files = await readLogFiles(path);
  assert.deepEqual(files.map((f) => f.index), [3, 2, 1, 0]);
  const lines = await readAllLines(path);
  assert.deepEqual(lines, sent.slice(sent.length - lines.length));
  assert.ok(sink.stats().rotations > 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("max age removes rotated files older than the limit", async (t) => {
  await t.step("old files found at start are removed", async () => {
    const { dir, path } = await tempLog();
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const name of ["app.log.1", "app.log.2.gz"]) {
      await Deno.writeTextFile(join(dir, name), "old\n");
      await Deno.utime(join(dir, name), hourAgo, hourAgo);
    }
    await Deno.writeTextFile(join(dir, "app.log.3"), "recent\n");
    const sink = new RotatingFileSink({ path, maxAge: 60_000, keep: 5 });
    sink.write("new\n", "info");
    await sink.close();
    const names = (await readLogFiles(path)).map((f) => f.path.slice(dir.length + 1));
    assert.deepEqual(names, ["app.log.3", "app.log"]);
    await Deno.remove(dir, { recursive: true });
  });

  await t.step("files that age while running are removed", async () => {
    const { dir, path } = await tempLog();
    const sink = new RotatingFileSink({ path, maxSize: 100, maxAge: 200, flushInterval: 20 });
    for (let i = 0; i < 10; i++) sink.write(`line ${i} ${"a".repeat(50)}\n`, "info");
    await sink.flush();
    assert.ok((await readLogFiles(path)).length > 3);
    await waitFor("old rotated files to go", async () => (await readLogFiles(path)).length === 1);
    assert.equal(await Deno.readTextFile(path), `line 9 ${"a".repeat(50)}\n`);
    await sink.close();
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("a line longer than max size goes whole into a file of its own", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path, maxSize: 100, keep: 10 });
  const long = "L".repeat(300);
  for (const l of ["a", long, "b"]) sink.write(l + "\n", "info");
  await sink.close();
  const files = await readLogFiles(path);
  assert.deepEqual(files.map((f) => f.text), ["a\n", long + "\n", "b\n"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a torn last line left by a crash is cut off when the file is reopened", async () => {
  const { dir, path } = await tempLog();
  await Deno.writeTextFile(path, "whole 1\nwhole 2\ntorn li");
  const sink = new RotatingFileSink({ path });
  sink.write("next\n", "info");
  await sink.close();
  assert.equal(await Deno.readTextFile(path), "whole 1\nwhole 2\nnext\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("lines written after close are dropped and counted, never thrown", async () => {
  const { dir, path } = await tempLog();
  const sink = new RotatingFileSink({ path });
  sink.write("kept\n", "info");
  await sink.close();
  sink.write("late\n", "error");
  sink.writeLines(encoder.encode("late 2\nlate 3\n"));
  const stats = sink.stats();
  assert.equal(stats.written_lines, 1);
  assert.equal(stats.dropped_lines, 3);
  assert.equal(await Deno.readTextFile(path), "kept\n");
  await Deno.remove(dir, { recursive: true });
});
