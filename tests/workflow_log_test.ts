import assert from "node:assert/strict";
import { WorkflowLogBuilder } from "../src/workflow/builders.ts";
import { validateRecord } from "../src/workflow/record.ts";
import { serveTraces } from "./fixtures/trace_server.ts";

function clock(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => now += ms };
}

Deno.test("the builders make a record in the platform's shape, with usage summed and first frame derived", () => {
  const t = clock(1_764_000_000_000);
  const run = new WorkflowLogBuilder({
    sid: "spf00010001@hf1",
    app_id: "app1",
    uid: "u1",
    question: "今天天气如何？",
  }, t.now);
  const start = run.node({
    node_id: "node-start::a1",
    input: { AGENT_USER_INPUT: "今天天气如何？" },
  });
  t.advance(5);
  start.end();
  const llm = run.node({ node_id: "llm::b2", node_name: "大模型" });
  start.next(llm);
  llm.info("calling the model").usage({
    question_tokens: 5,
    prompt_tokens: 20,
    completion_tokens: 30,
    total_tokens: 50,
  });
  t.advance(300);
  llm.end({ output: { text: "晴" }, llm_output: "晴" });
  const msg = run.node({ node_id: "message::c3" });
  llm.next(msg);
  t.advance(10);
  msg.error("Timeout: the channel closed");
  msg.end();
  const record = run.finish({ answer: "晴" });

  assert.equal(record.start_time, 1_764_000_000_000);
  assert.equal(record.duration, 315);
  assert.equal(record.first_frame_duration, 305, "the message node started 305 ms in");
  assert.deepEqual(record.usage, {
    question_tokens: 5,
    prompt_tokens: 20,
    completion_tokens: 30,
    total_tokens: 50,
  });
  assert.deepEqual(record.status, { code: 0, message: "success" });
  const [n1, n2, n3] = record.trace!;
  assert.equal(n2.node_type, "llm");
  assert.deepEqual(n1.next_log_ids, [n2.id]);
  assert.match(n1.id, /^[0-9a-f]{32}$/);
  assert.equal(n2.duration, 300);
  assert.equal(n3.running_status, false);
  const log = JSON.parse(n3.logs![0]);
  assert.equal(log.level, "ERROR");
  assert.match(log.time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.ok(validateRecord(record).ok);
});

Deno.test("a built record posts to the store and reads back in execution order", async () => {
  await using server = await serveTraces();
  const run = new WorkflowLogBuilder({ sid: "spf-built-1", app_id: "app1" });
  const a = run.node({ node_id: "node-start::1" }).end();
  const b = run.node({ node_id: "node-end::2" }).end();
  a.next(b);
  const record = run.finish({ answer: "ok" });
  const posted = await server.call("/api/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(record),
  });
  assert.equal(posted.status, 202, posted.text);
  const got = await server.call("/api/v1/traces/spf-built-1");
  assert.deepEqual(got.json.record.trace.map((n: { node_id: string }) => n.node_id), [
    "node-start::1",
    "node-end::2",
  ]);
  assert.equal(got.json.record.answer, "ok");
});
