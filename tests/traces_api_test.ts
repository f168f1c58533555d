import assert from "node:assert/strict";
import { serveTraces } from "./fixtures/trace_server.ts";
import { chatRun, errorRun, newSid, smallRun } from "./fixtures/workflow.ts";
import { assertSameRecord } from "./fixtures/store_suite.ts";
import { BLOB_LINK_PREFIX } from "../src/store/blobs.ts";

const json = { "Content-Type": "application/json" };

Deno.test("a posted record is answered 202 and reads back field for field over HTTP", async () => {
  await using api = await serveTraces();
  const chat = chatRun();
  const res = await api.fetch("/api/v1/traces", {
    method: "POST",
    headers: json,
    body: JSON.stringify(chat),
  });
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), {
    accepted: 1,
    stored: 1,
    spooled: 0,
    rejected: 0,
    errors: [],
    warnings: [],
  });
  const linked = await (await api.fetch(`/api/v1/traces/${encodeURIComponent(chat.sid)}`)).json();
  const link: string = linked.record.trace[1].data.output.results;
  assert.ok(link.startsWith(BLOB_LINK_PREFIX));
  const blob = await api.fetch(link);
  assert.equal(blob.status, 200);
  assert.equal(await blob.text(), (chat.trace![1].data!.output as { results: string }).results);
  const full =
    await (await api.fetch(`/api/v1/traces/${encodeURIComponent(chat.sid)}?blobs=inline`))
      .json();
  assertSameRecord(full.record, chat);
});

Deno.test("arrays and NDJSON are taken; a record without a valid sid is named, a surprise is kept and named", async () => {
  await using api = await serveTraces();
  const good = [smallRun(1, { sid: newSid() }), smallRun(2, { sid: newSid() })];
  const odd = { ...smallRun(3), sid: newSid(), usage: { total_tokens: "many" } };
  const bad = { ...smallRun(6), sid: "no/slashes" };
  const res = await api.fetch("/api/v1/traces", {
    method: "POST",
    headers: json,
    body: JSON.stringify([good[0], odd, bad, good[1]]),
  });
  assert.equal(res.status, 202);
  const body = await res.json();
  assert.equal(body.accepted, 3);
  assert.deepEqual(body.errors, [{
    index: 2,
    sid: "no/slashes",
    error: 'sid: expected letters, digits and _.:@- (at most 128), got "no/slashes"',
  }]);
  assert.deepEqual(body.warnings, [{
    index: 1,
    sid: odd.sid,
    warning: 'usage.total_tokens: expected a number, got "many"; kept as given',
  }]);

  const lines = [smallRun(4, { sid: newSid() }), smallRun(5, { sid: newSid() })]
    .map((r) => JSON.stringify(r));
  const nd = await api.fetch("/api/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: `${lines[0]}\n{"sid": broken\n${lines[1]}\n`,
  });
  assert.equal(nd.status, 202);
  const ndBody = await nd.json();
  assert.equal(ndBody.accepted, 2);
  assert.equal(ndBody.errors[0].index, 1);
  assert.match(ndBody.errors[0].error, /^invalid JSON/);
  const list = await (await api.fetch("/api/v1/traces?limit=10")).json();
  assert.equal(list.runs.length, 5);
});

Deno.test("the list route filters and pages with a cursor", async () => {
  await using api = await serveTraces();
  const base = Date.parse("2026-03-01T00:00:00Z");
  const runs = Array.from(
    { length: 12 },
    (_, i) => smallRun(i, { sid: `r-${i}`, app_id: "app-x", start: base + i * 1000, nodes: 2 }),
  );
  await api.call("/api/v1/traces", { method: "POST", headers: json, body: JSON.stringify(runs) });
  const seen: string[] = [];
  let url = "/api/v1/traces?app_id=app-x&limit=5";
  for (;;) {
    const page = await (await api.fetch(url)).json();
    seen.push(...page.runs.map((r: { sid: string }) => r.sid));
    if (!page.next_cursor) break;
    url = `/api/v1/traces?app_id=app-x&limit=5&cursor=${page.next_cursor}`;
  }
  assert.deepEqual(seen, runs.map((r) => r.sid).reverse());
  const errs = await (await api.fetch("/api/v1/traces?status=error&since=2026-03-01&limit=50"))
    .json();
  assert.deepEqual(errs.runs.map((r: { sid: string }) => r.sid), ["r-10", "r-0"]);
});

Deno.test("usage stats sum tokens by app_id and node_type over a window", async () => {
  await using api = await serveTraces();
  const since = Date.now() - 3_600_000;
  const runs = [chatRun({ app_id: "app-a", start: since + 1000 }), errorRun({ app_id: "app-b" })];
  await api.call("/api/v1/traces", { method: "POST", headers: json, body: JSON.stringify(runs) });
  const byApp = await (await api.fetch(`/api/v1/stats/usage?since=${since}`)).json();
  assert.deepEqual(
    byApp.groups.map((g: { key: string; total_tokens: number; errors: number }) => [
      g.key,
      g.total_tokens,
      g.errors,
    ]),
    [["app-a", 7568, 0], ["app-b", 220, 1]],
  );
  const byType = await (await api.fetch("/api/v1/stats/usage?by=node_type&since=2h")).json();
  const llm = byType.groups.find((g: { key: string }) => g.key === "llm");
  assert.equal(llm.count, 2);
  assert.equal(llm.total_tokens, 7568 + 220);
  assert.equal(llm.errors, 1);
});
