/**
 * Limits on what one request may cost: a gzip bomb is refused once its
 * inflated bytes pass `server.max_body`, before the agent holds them; a run
 * of 50,000 nodes reads back one page at a time, in the execution order
 * decided at ingest; bodies that are not JSON by their Content-Type are
 * refused before they are read as records.
 */

import assert from "node:assert/strict";
import { serveTraces } from "./fixtures/trace_server.ts";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { executionOrder } from "../src/store/rows.ts";

const GiB = 1024 * 1024 * 1024;

/** `bytes` zeros, gzipped as a stream: the test never holds the inflated bytes. */
async function gzippedZeros(bytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const chunk = new Uint8Array(1024 * 1024);
  let left = bytes;
  const zeros = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (left <= 0) return controller.close();
      const n = Math.min(left, chunk.length);
      left -= n;
      controller.enqueue(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
  return await new Response(zeros.pipeThrough(new CompressionStream("gzip"))).bytes();
}

let bombMade: Promise<Uint8Array<ArrayBuffer>> | undefined;
/** A gzip body of about 1 MiB that inflates to 1 GiB of zeros, made once. */
function bomb(): Promise<Uint8Array<ArrayBuffer>> {
  return bombMade ??= gzippedZeros(GiB);
}

/** The peak resident set size of a process, in bytes (Linux: `VmHWM`). */
async function peakRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

const MB = 1_000_000;
const TOKEN = "limits-token";

const bombs = [
  { path: "/api/v1/traces", type: "application/json" },
  { path: "/v1/traces", type: "application/x-protobuf" },
];

for (const { path, type } of bombs) {
  Deno.test({
    name: `a 1 GiB gzip bomb to ${path} gets 413 and the agent stays under 400 MB`,
    ignore: Deno.build.os !== "linux",
    async fn() {
      await using dir = await tempDir();
      const config = `${dir.path}/astron-watch.yaml`;
      await Deno.writeTextFile(
        config,
        "log:\n  stderr: always\n  dir: ./logs\n" +
          `server:\n  listen: 127.0.0.1:0\n  write_token: ${TOKEN}\n` +
          "store:\n  url: sqlite:./data/traces.db\n  blob_dir: ./data/blobs\nprobes: []\n",
      );
      const body = await bomb();
      assert.ok(body.length < 2 * 1024 * 1024, `the bomb is ${body.length} bytes gzipped`);
      const agent = await spawnAgent({ config });
      try {
        const res = await agent.fetch(path, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${TOKEN}`,
            "Content-Type": type,
            "Content-Encoding": "gzip",
          },
          body,
        });
        const text = await res.text();
        assert.equal(res.status, 413, text);
        assert.match(JSON.parse(text).error.message, /after gzip decoding/);

        const peak = await peakRss(agent.child.pid);
        console.log(`peak RSS after a 1 GiB gzip bomb: ${Math.round(peak / MB)} MB (POST ${path})`);
        assert.ok(peak < 400 * MB, `peak RSS ${Math.round(peak / MB)} MB`);

        const health = await agent.fetch("/healthz");
        assert.equal(await health.text(), "ok\n");
      } finally {
        await agent.close();
      }
    },
  });
}

/** A deterministic shuffle (a fixed LCG), so a failure can be replayed. */
function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

Deno.test("a run of 50,000 nodes reads back 500 at a time, every node once, in execution order", async (t) => {
  await using api = await serveTraces();
  const n = 50_000;
  const start = Date.now() - 3_600_000;
  const sid = "spf-many-nodes@hf1";
  // Written in a shuffled order; the graph says nothing (no next_log_ids): start time decides.
  const trace = shuffled(n).map((k) => ({
    id: `n${k}`,
    node_type: "plugin",
    start_time: start + 10 * k,
    end_time: start + 10 * k + 5,
  }));
  const expected = Array.from({ length: n }, (_, k) => `n${k}`);
  const ingest = await api.call("/api/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sid, start_time: start, end_time: start + 10 * n, trace }),
  });
  assert.equal(ingest.status, 202, ingest.text);

  await t.step("the first GET answers 500 nodes and where the next page starts", async () => {
    const began = performance.now();
    const first = await api.call(`/api/v1/traces/${sid}`);
    console.log(
      `first GET of a ${n}-node run: ${Math.round(performance.now() - began)} ms`,
    );
    assert.equal(first.status, 200, first.text.slice(0, 500));
    assert.deepEqual(first.json.nodes, { total: n, offset: 0, limit: 500, next_offset: 500 });
    const ids = first.json.record.trace.map((x: { id: string }) => x.id);
    assert.deepEqual(ids, expected.slice(0, 500));
  });

  await t.step("pages of 2000 hold every node once, in start-time order", async () => {
    const ids: string[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null) {
      const page = await api.call(`/api/v1/traces/${sid}?node_offset=${offset}&node_limit=2000`);
      assert.equal(page.status, 200, page.text.slice(0, 500));
      assert.equal(page.json.nodes.total, n);
      assert.equal(page.json.nodes.offset, offset);
      for (const x of page.json.record.trace) ids.push(x.id);
      offset = page.json.nodes.next_offset;
      pages++;
      assert.ok(pages <= n / 2000, `more than ${n / 2000} pages`);
    }
    assert.equal(pages, n / 2000);
    assert.equal(new Set(ids).size, n);
    assert.deepEqual(ids, expected);
  });

  for (const bad of ["0", "2001", "x"]) {
    await t.step(`node_limit=${bad} gets 400 naming node_limit`, async () => {
      const res = await api.call(`/api/v1/traces/${sid}?node_limit=${bad}`);
      assert.equal(res.status, 400, res.text.slice(0, 500));
      assert.match(res.json.error.message, /^node_limit: /);
    });
  }
});

Deno.test("execution order of 50,000 nodes takes O(n log n) comparisons", () => {
  const n = 50_000;
  const bound = 40 * n * Math.log2(n);
  let reads = 0;
  // Each comparison reads two start times; the getter counts them, and stops
  // a quadratic walk (about n^2/2 comparisons) as soon as it passes the bound.
  const nodes = shuffled(n).map((k, idx) => {
    const at = 1_000 + 10 * k;
    return {
      id: `n${k}`,
      idx,
      get start_time(): number {
        if (++reads > 2 * bound) throw new Error(`more than ${bound} comparisons`);
        return at;
      },
    };
  });
  const order = executionOrder(nodes, () => []);
  const comparisons = reads / 2;
  assert.ok(comparisons < bound, `${comparisons} comparisons, bound ${bound}`);
  assert.equal(order.length, n);
  assert.deepEqual(order.map((x) => x.id), Array.from({ length: n }, (_, k) => `n${k}`));
});

Deno.test("records sent as text or a form get 415 naming the type, and nothing is stored", async (t) => {
  await using api = await serveTraces();
  const record = JSON.stringify({ sid: "typed-1", start_time: Date.now() });
  for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
    await t.step(`Content-Type ${type} gets 415`, async () => {
      const res = await api.call("/api/v1/traces", {
        method: "POST",
        headers: { "Content-Type": type },
        body: record,
      });
      assert.equal(res.status, 415, res.text);
      assert.ok(res.json.error.message.includes(type), res.json.error.message);
    });
  }
  await t.step("nothing was stored", async () => {
    const list = await api.call("/api/v1/traces");
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.runs, []);
    const one = await api.call("/api/v1/traces/typed-1");
    assert.equal(one.status, 404, one.text);
  });
  await t.step("a body with no Content-Type at all is still read as JSON", async () => {
    // Bytes, not a string: fetch adds no Content-Type for them.
    const res = await api.call("/api/v1/traces", {
      method: "POST",
      body: new TextEncoder().encode(record),
    });
    assert.equal(res.status, 202, res.text);
    const one = await api.call("/api/v1/traces/typed-1");
    assert.equal(one.status, 200, one.text);
  });
});
