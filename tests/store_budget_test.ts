import assert from "node:assert/strict";
import { openTestStore, wire } from "./fixtures/store.ts";
import { chatRun, smallRun } from "./fixtures/workflow.ts";

Deno.test("the disk budget removes the oldest runs first and the file shrinks under it", async () => {
  await using ts = await openTestStore(undefined, { max_size: 3_000_000 }, { blobGrace: 0 });
  const { store } = ts;
  const base = Date.now() - 86_400_000;
  for (let b = 0; b < 10; b++) {
    const runs = Array.from(
      { length: 200 },
      (_, i) =>
        smallRun(b * 200 + i, { sid: `b-${b * 200 + i}`, start: base + (b * 200 + i) * 1000 }),
    );
    await store.ingestRuns(wire(runs));
  }
  // Runs with blobs among the oldest: their blobs must go with them.
  const withBlob = chatRun({ sid: "blob-old", start: base - 1000 });
  await store.ingestRuns([wire(withBlob)]);
  const hash = (await store.getRun("blob-old"))!.blobs[0];
  const before = await store.size();
  assert.ok(before > 3_000_000, `filled to ${before} bytes`);

  const r = await store.enforceRetention();
  assert.ok(r.bytes <= 3_000_000, JSON.stringify(r));
  assert.ok(r.runs > 0 && r.runs < 2001, JSON.stringify(r));
  const db = Deno.statSync(`${ts.dir}/traces.db`).size;
  assert.ok(db <= 3_000_000, `database file is ${db} bytes`);
  assert.equal(await store.getRun("blob-old"), undefined);
  assert.equal(await store.blobs.read(hash), undefined);
  // Oldest went first: what is left is exactly the newest runs.
  const left = 2001 - r.runs;
  const oldest = await store.backend.db.selectFrom("runs").select(["sid"]).orderBy("start_time")
    .limit(1).executeTakeFirstOrThrow();
  assert.equal(oldest.sid, `b-${2000 - left}`);
});
