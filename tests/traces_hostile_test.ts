import assert from "node:assert/strict";
import { serveTraces } from "./fixtures/trace_server.ts";
import { smallRun } from "./fixtures/workflow.ts";

const json = { "Content-Type": "application/json" };

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return await new Response(
    new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new CompressionStream("gzip"),
    ),
  ).bytes();
}

Deno.test("hostile input gets the right 4xx, stores nothing, and the server keeps serving", async (t) => {
  await using api = await serveTraces({ maxBody: 1024 * 1024 });
  const valid = JSON.stringify(smallRun(1, { nodes: 2 }));
  let deepObject = '"x"';
  for (let i = 0; i < 5000; i++) deepObject = `{"a":${deepObject}}`;
  const bomb = await gzip(new Uint8Array(80 * 1024 * 1024));

  const posts: {
    name: string;
    body: BodyInit;
    headers?: Record<string, string>;
    auth?: boolean;
    status: number;
    message: RegExp;
  }[] = [
    { name: "broken JSON", body: '{"sid": "a",', status: 400, message: /^body: invalid JSON/ },
    { name: "an empty body", body: "", status: 400, message: /^body: empty/ },
    {
      name: "a JSON null",
      body: "null",
      status: 400,
      message: /^body: expected a workflow record/,
    },
    {
      name: "a number for sid",
      body: valid.replace(/"sid":"[^"]+"/, '"sid":42'),
      status: 400,
      message: /^sid: expected a string, got 42$/,
    },
    {
      name: "a sid with ../",
      body: valid.replace(/"sid":"[^"]+"/, '"sid":"../../etc/passwd"'),
      status: 400,
      message: /^sid: expected letters/,
    },
    {
      name: "SQL text as sid",
      body: valid.replace(/"sid":"[^"]+"/, `"sid":"x'; DROP TABLE runs; --"`),
      status: 400,
      message: /^sid:/,
    },
    {
      name: "a deeply nested object",
      body: `{"sid":"deep1","start_time":1,"data":${deepObject}}`,
      status: 400,
      message: /nests deeper than 64/,
    },
    {
      name: "deeply nested arrays",
      body: "[".repeat(100_000) + "]".repeat(100_000),
      status: 400,
      message: /record: expected an object/,
    },
    {
      name: "invalid UTF-8",
      body: new Uint8Array([0x7b, 0x22, 0x73, 0xff, 0xfe, 0x22, 0x7d]),
      status: 400,
      message: /^body: not valid UTF-8$/,
    },
    {
      name: "a body over the limit",
      body: "x".repeat(2 * 1024 * 1024),
      status: 413,
      message: /over 1048576 bytes/,
    },
    {
      name: "a gzip bomb",
      body: bomb as Uint8Array<ArrayBuffer>,
      headers: { "Content-Encoding": "gzip" },
      status: 413,
      message: /after gzip decoding/,
    },
    {
      name: "broken gzip",
      body: "not gzip at all",
      headers: { "Content-Encoding": "gzip" },
      status: 400,
      message: /not valid gzip/,
    },
    {
      name: "an unknown encoding",
      body: valid,
      headers: { "Content-Encoding": "br" },
      status: 415,
      message: /Content-Encoding: br/,
    },
    { name: "no token", body: valid, auth: false, status: 401, message: /Bearer/ },
    {
      name: "a batch of only bad records",
      body: `[1, {"sid": "../ok1"}]`,
      status: 400,
      message: /^record 0: record: expected an object.*\(and 1 more\)$/,
    },
  ];
  for (const c of posts) {
    await t.step(`POST /api/v1/traces with ${c.name} gets ${c.status}`, async () => {
      const res = await api.call("/api/v1/traces", {
        method: "POST",
        headers: { ...json, ...c.headers },
        body: c.body,
        auth: c.auth,
      });
      assert.equal(res.status, c.status, res.text);
      assert.match(res.json.error.message, c.message);
    });
  }

  const gets: { name: string; path: string; status: number; message?: RegExp }[] = [
    { name: "SQL text in a filter", path: "/api/v1/traces?app_id=' OR '1'='1", status: 200 },
    { name: "LIKE wildcards in q", path: "/api/v1/traces?q=%25'%20--", status: 200 },
    { name: "a zero limit", path: "/api/v1/traces?limit=0", status: 400, message: /^limit:/ },
    { name: "a huge limit", path: "/api/v1/traces?limit=100000", status: 400, message: /^limit:/ },
    {
      name: "a bad cursor",
      path: "/api/v1/traces?cursor=Zm9vYmFy",
      status: 400,
      message: /^cursor:/,
    },
    {
      name: "a forged cursor",
      path: `/api/v1/traces?cursor=${btoa('["1","x"]')}`,
      status: 400,
      message: /^cursor:/,
    },
    {
      name: "a bad date",
      path: "/api/v1/traces?since=yesterday",
      status: 400,
      message: /^since: "yesterday" is not a time/,
    },
    {
      name: "an impossible date",
      path: "/api/v1/traces?until=2026-13-45",
      status: 400,
      message: /^until:/,
    },
    {
      name: "since after until",
      path: "/api/v1/traces?since=2026-02-01&until=2026-01-01",
      status: 400,
      message: /^since: after until/,
    },
    {
      name: "an unknown parameter",
      path: "/api/v1/traces?app=1",
      status: 400,
      message: /^unknown parameter "app"/,
    },
    {
      name: "a bad status",
      path: "/api/v1/traces?status=failed",
      status: 400,
      message: /^status:/,
    },
    {
      name: "a sid with ../",
      path: "/api/v1/traces/..%2F..%2Fetc%2Fpasswd",
      status: 400,
      message: /^sid:/,
    },
    {
      name: "an unknown sid",
      path: "/api/v1/traces/spf0000@nowhere",
      status: 404,
      message: /^no run/,
    },
    {
      name: "a blob path with ../",
      path: "/api/v1/blobs/..%2F..%2Fetc%2Fpasswd",
      status: 400,
      message: /^hash:/,
    },
    { name: "an unknown blob", path: `/api/v1/blobs/${"a".repeat(64)}`, status: 404 },
    { name: "a bad group", path: "/api/v1/stats/usage?by=sid", status: 400, message: /^by:/ },
  ];
  for (const c of gets) {
    await t.step(`GET with ${c.name} gets ${c.status}`, async () => {
      const res = await api.call(c.path);
      assert.equal(res.status, c.status, res.text);
      if (c.message) assert.match(res.json.error.message, c.message);
      if (c.status === 200) assert.deepEqual(res.json.runs, []);
    });
  }

  await t.step("nothing was stored and the server still answers", async () => {
    const count = await api.store.backend.db.selectFrom("runs").select((eb) =>
      eb.fn.countAll().as("n")
    ).executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 0);
    const ok = await api.call("/api/v1/traces", { method: "POST", headers: json, body: valid });
    assert.equal(ok.status, 202);
  });
});
