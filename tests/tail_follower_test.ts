import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Follower, type TailBatch, type TailPosition } from "../src/tail/follower.ts";
import { LineSplitter } from "../src/tail/lines.ts";
import { seriesOf } from "../src/tail/series.ts";

/** A consumer that keeps every line and the last position per stream, as the store would. */
class Sink {
  lines: string[] = [];
  positions = new Map<string, TailPosition>();
  failNext = false;
  take = (b: TailBatch): Promise<void> => {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error("store down"));
    }
    this.lines.push(...b.lines);
    this.positions.set(b.position.key, b.position);
    return Promise.resolve();
  };
  follower(path: string, maxLine = 1024) {
    return new Follower({
      path,
      maxLine,
      positions: [...this.positions.values()],
      take: this.take,
    });
  }
}

async function append(path: string, lines: string[]) {
  await Deno.writeTextFile(path, lines.map((l) => l + "\n").join(""), { append: true });
}

const numbered = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `line ${from + i} ${"x".repeat((from + i) % 7)}`);

Deno.test("follower: rename-and-create, copytruncate, .gz copies and a restart: every line once", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/access.log`;
  const sink = new Sink();
  let f = sink.follower(log);
  await append(log, numbered(0, 100));
  await f.poll();
  assertEquals(sink.lines.length, 100);
  // Rename and create: lines written to the old inode after the rename are read too.
  await Deno.rename(log, `${log}.1`);
  await append(`${log}.1`, numbered(100, 10));
  await append(log, numbered(110, 50));
  await f.poll();
  assertEquals(sink.lines.length, 160);
  // Restart: a new follower from the saved positions reads only what is new.
  await append(log, numbered(160, 5));
  f = sink.follower(log);
  await f.poll();
  assertEquals(sink.lines.length, 165);
  // Copytruncate with lines written between our read and the copy.
  await append(log, numbered(165, 20));
  await Deno.copyFile(log, `${log}.2`);
  await Deno.truncate(log, 0);
  await append(log, numbered(185, 3));
  await f.poll();
  assertEquals(sink.lines.length, 188);
  // The rotated .1 compressed to .3.gz (and removed): nothing read twice.
  const gz = await new Response(
    (await Deno.open(`${log}.1`)).readable.pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  await Deno.writeFile(`${log}.3.gz`, gz);
  await Deno.remove(`${log}.1`);
  await f.poll();
  await f.poll();
  assertEquals(sink.lines.length, 188);
  const want = numbered(0, 188);
  assertEquals(sink.lines.toSorted(), want.toSorted());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("follower: a .gz rotated file never seen before is read once; a refused batch is read again", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/app.log`;
  const old = numbered(0, 30).map((l) => l + "\n").join("");
  const gz = await new Response(
    new Blob([old]).stream().pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  await Deno.writeFile(`${log}.2.gz`, gz);
  await append(log, numbered(30, 5));
  const sink = new Sink();
  const f = sink.follower(log);
  sink.failNext = true;
  await f.poll().catch(() => {});
  await f.poll();
  await f.poll();
  assertEquals(sink.lines.toSorted(), numbered(0, 35).toSorted());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("follower: a .gz read to its end is not decompressed again after a restart", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/app.log`;
  const gz = await new Response(
    new Blob([numbered(0, 30).map((l) => l + "\n").join("")]).stream()
      .pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  await Deno.writeFile(`${log}.2.gz`, gz);
  await append(log, numbered(30, 5));
  const sink = new Sink();
  assertEquals((await sink.follower(log).poll()).files, 2);
  assertEquals(sink.lines.length, 35);
  const saved = [...sink.positions.values()].find((p) => p.path.endsWith(".gz"))!;
  assertEquals(typeof saved.ended, "string", "the .gz's end is saved with its position");
  // Restarted from the saved positions: only the live file is looked at.
  assertEquals((await sink.follower(log).poll()).files, 1);
  // Without the saved end (as before it was saved), the .gz is decompressed once more.
  const { ended: _, ...unended } = saved;
  sink.positions.set(saved.key, unended);
  assertEquals((await sink.follower(log).poll()).files, 2);
  assertEquals(sink.lines.length, 35, "and still nothing read twice");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("follower: a stream gone for good is forgotten, in memory and in the store", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/access.log`;
  const sink = new Sink();
  const forgotten: string[][] = [];
  const f = new Follower({
    path: log,
    maxLine: 1024,
    positions: [],
    take: sink.take,
    forgetAfter: 0,
    forget: (keys) => (forgotten.push(keys), Promise.resolve()),
  });
  await append(log, numbered(0, 10));
  await f.poll();
  const [first] = sink.positions.keys();
  await Deno.rename(log, `${log}.1`);
  await append(log, numbered(10, 10));
  await f.poll();
  assertEquals(forgotten, [], "a rotated file still there is kept");
  // Its path now names another file (the next rotation): the stream is gone.
  await Deno.rename(`${log}.1`, `${log}.2`);
  await Deno.remove(`${log}.2`);
  await Deno.rename(log, `${log}.1`);
  await append(log, numbered(20, 10));
  await f.poll();
  assertEquals(forgotten, [[first]]);
  await f.poll();
  assertEquals(forgotten.length, 1, "forgotten once");
  assertEquals(sink.lines.toSorted(), numbered(0, 30).toSorted());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("follower: a partial last line waits for its newline; loguru rotations through a glob", async () => {
  const dir = await Deno.makeTempDir();
  const sink = new Sink();
  const f = sink.follower(`${dir}/*.log`);
  await Deno.writeTextFile(`${dir}/core.log`, "one\ntw");
  await f.poll();
  assertEquals(sink.lines, ["one"]);
  await Deno.writeTextFile(`${dir}/core.log`, "o\n", { append: true });
  await f.poll();
  assertEquals(sink.lines, ["one", "two"]);
  await Deno.rename(`${dir}/core.log`, `${dir}/core.2026-11-26_10-00-00_123456.log`);
  await Deno.writeTextFile(`${dir}/core.log`, "three\n");
  await Deno.writeTextFile(`${dir}/other.log`, "four\n");
  await f.poll();
  assertEquals(sink.lines.toSorted(), ["four", "one", "three", "two"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("line splitter: long lines cut and counted, binary lines skipped and counted", () => {
  const s = new LineSplitter(10);
  const enc = new TextEncoder();
  const r1 = s.push(enc.encode("short\n" + "y".repeat(25)));
  const r2 = s.push(enc.encode("yyy\nbin\u0000ary\nok\n"));
  assertEquals([...r1.lines, ...r2.lines], ["short", "yyyyyyyyyy", "ok"]);
  assertEquals(s.cut, 1);
  assertEquals(s.binary, 1);
  assertEquals(r1.consumed + r2.consumed, 6 + 25 + 4 + 8 + 3);
});

Deno.test("series: rotated names belong to their live file", () => {
  assertEquals(seriesOf("access.log.1"), "access.log");
  assertEquals(seriesOf("access.log.2.gz"), "access.log");
  assertEquals(seriesOf("access.log-20261126"), "access.log");
  assertEquals(seriesOf("core.2026-11-26_10-00-00_123456.log"), "core.log");
  assertEquals(seriesOf("core.log"), "core.log");
});
