import assert from "node:assert/strict";
import { executionOrder } from "../src/store/rows.ts";
import { decodeCursor, encodeCursor } from "../src/store/query.ts";
import { percentile } from "../src/stats.ts";
import { validateRecord } from "../src/workflow/record.ts";
import { Spool } from "../src/store/spool.ts";
import { BLOB_LINK_PREFIX, BlobStore } from "../src/store/blobs.ts";
import { type DeadLetter, DeadLetters } from "../src/store/dead_letters.ts";

Deno.test("execution order follows the graph, then start time, and survives cycles", () => {
  const nodes = [
    { id: "c", idx: 0, start_time: 5, next: [] },
    { id: "a", idx: 1, start_time: 9, next: ["b"] },
    { id: "b", idx: 2, start_time: 1, next: ["c"] },
    { id: "x", idx: 3, start_time: 2, next: ["y"] },
    { id: "y", idx: 4, start_time: 3, next: ["x"] },
  ];
  assert.deepEqual(executionOrder(nodes, (n) => n.next).map((n) => n.id), [
    "a",
    "b",
    "c",
    "x",
    "y",
  ]);
});

Deno.test("cursors round-trip and foreign text is refused", () => {
  const c = { start_time: 1767225600000, sid: "spf0001@hf" };
  assert.deepEqual(decodeCursor(encodeCursor(c)), c);
  for (
    const bad of ["", "abc", "../../x", btoa("[1]"), btoa('["x","y"]'), "%%%", "a".repeat(500)]
  ) {
    assert.equal(decodeCursor(bad), undefined, bad);
  }
});

Deno.test("percentiles are nearest-rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual([0.5, 0.9, 0.99].map((p) => percentile(xs, p)), [50, 90, 99]);
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([7], 0.99), 7);
});

Deno.test("records nested deeper than 64 levels are refused, the walk stopping at the limit", () => {
  let deep: unknown = "x";
  for (let i = 0; i < 100_000; i++) deep = { d: deep };
  const r = validateRecord({ sid: "s1", start_time: 1, deep });
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /nests deeper than 64/);
});

Deno.test("the spool replays in order, skips a torn tail and empties itself", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool<{ n: number }>(dir);
    await spool.open();
    await spool.append({ n: 1 }, 1);
    await spool.append({ n: 2 }, 2);
    spool.close();
    await Deno.writeTextFile(`${dir}/spool.ndjson`, '{"count":5,"data":{"n":', { append: true });
    const again = new Spool<{ n: number }>(dir);
    await again.open();
    assert.equal(again.pending, 3);
    await again.append({ n: 3 }, 1);
    const seen: number[] = [];
    await assert.rejects(again.replay(() => Promise.reject(new Error("down"))));
    assert.equal(again.pending, 4);
    while (again.pending) {
      await again.replay((batch) => {
        seen.push(...batch.map((b) => b.n));
        return Promise.resolve();
      }, 2);
    }
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal((await Deno.stat(`${dir}/spool.ndjson`)).size, 0);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("strings are offloaded from 5,088 UTF-8 bytes, as the platform's getsizeof > 5120", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const blobs = new BlobStore({ dir, inlineLimit: 5 * 1024 });
    const record = {
      kept: "a".repeat(5087),
      ascii: "b".repeat(5088),
      cjk: "节".repeat(1700), // 5,100 bytes of UTF-8
    };
    const refs = await blobs.offload(record);
    assert.equal(record.kept.length, 5087);
    assert.ok(record.ascii.startsWith(BLOB_LINK_PREFIX));
    assert.ok(record.cjk.startsWith(BLOB_LINK_PREFIX));
    assert.deepEqual(refs.map((r) => r.size).sort(), [5088, 5100]);
    blobs.unpin(refs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a spool batch read before the file was emptied cannot mark later entries as replayed", async () => {
  const dir = await Deno.makeTempDir();
  const spool = new Spool<string>(dir);
  try {
    await spool.open();
    await spool.append("a", 1);
    // Two replays read the same batch; the first one's advance empties the file.
    const first = await spool.read(10);
    const second = await spool.read(10);
    await spool.advance(first);
    await spool.append("b", 1);
    // The second's advance is stale: it must not swallow "b".
    await spool.advance(second);
    assert.equal(spool.pending, 1);
    assert.deepEqual((await spool.read(10)).entries, ["b"]);
  } finally {
    await spool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a dead letter appended while the shell replay takes the file is never lost", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const agent = new DeadLetters(dir); // the running agent
    const shell = new DeadLetters(dir); // `traces dead-letters replay`
    const letter = (i: number): DeadLetter => ({
      at: i,
      error: "x".repeat(100_000),
      run: { record: { sid: `s${i}`, start_time: 1 }, blobs: [], accepted_at: i },
    });
    for (let i = 0; i < 60; i++) {
      const appending = agent.append([letter(i)]);
      for (let k = 0; k < i % 6; k++) await Deno.stat(dir);
      const { letters, finish } = await shell.take();
      await appending;
      await finish([]); // everything taken was stored
      const left = await shell.take();
      const kept = left.letters.some((l) => l.at === i);
      await left.finish([]);
      assert.ok(letters.some((l) => l.at === i) || kept, `letter ${i} lost`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
