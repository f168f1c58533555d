/**
 * Records shaped exactly as the platform's code serialises them (the field
 * defaults of `WorkflowLog` and `NodeLog` in reference/astron-agent-otlp,
 * core/common and core-workflow copies) are accepted and read back with no
 * difference in value: an unended node (`"duration": [0]`), a float
 * `first_frame_duration` of -1.0, OSS links in place of large strings,
 * `flow_id`/`bot_id`/`srv`/`srv_tag`, Chinese text, and a 5,100-byte field
 * (offloaded, then put back with `?blobs=inline`). On SQLite and PostgreSQL.
 */

import assert from "node:assert/strict";
import { serveTraces } from "./fixtures/trace_server.ts";
import { locatePostgres, testDatabase } from "./support/postgres.ts";

/** A node as `NodeLog(...)` serialises with its defaults, then `overrides`. */
function nodeLog(overrides: Record<string, unknown>): Record<string, unknown> {
  const now = Date.now();
  return {
    id: crypto.randomUUID().replaceAll("-", ""),
    sid: "",
    node_id: "",
    node_type: "",
    node_name: "",
    func_id: "",
    func_type: "",
    func_name: "",
    next_log_ids: [],
    start_time: now,
    end_time: now,
    duration: 0,
    first_frame_duration: -1,
    node_first_cost_time: -1,
    llm_output: "",
    running_status: true,
    data: {
      input: {},
      output: {},
      config: {},
      usage: { question_tokens: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    },
    logs: [],
    ...overrides,
  };
}

/** A run as core-workflow's `WorkflowLog(sid, flow_id=...)` serialises, with three nodes. */
function workflowLog(sid: string): Record<string, unknown> {
  const start = Date.now() - 5_000;
  const end = nodeLog({
    sid,
    node_id: "node-end::7f3c",
    node_type: "node-end",
    node_name: "结束",
    func_id: "node-end::7f3c",
    func_type: "node-end",
    func_name: "结束",
    start_time: start + 4_000,
    end_time: start + 4_000,
    // core/common's NodeLog: a node that never reached set_end() keeps the tuple default.
    duration: [0],
  });
  const llm = nodeLog({
    sid,
    node_id: "spark-llm::a1b2",
    node_type: "spark-llm",
    node_name: "大模型",
    func_id: "spark-llm::a1b2",
    func_type: "spark-llm",
    func_name: "大模型",
    next_log_ids: [end.id],
    start_time: start + 100,
    end_time: start + 3_900,
    duration: 3_800,
    first_frame_duration: 850,
    node_first_cost_time: 0.842,
    llm_output: "合肥明天多云转晴，最高气温 26 摄氏度。",
    data: {
      input: { query: "明天合肥的天气怎么样？" },
      // A string the platform had offloaded to MinIO/OSS: the record holds its link.
      output: { content: "https://oss.example.com/spark-agent/2026/11/26/out-8c1e.txt" },
      config: { model: "spark-4.0-ultra", temperature: 0.5 },
      usage: { question_tokens: 12, prompt_tokens: 320, completion_tokens: 48, total_tokens: 368 },
    },
    logs: [
      JSON.stringify({ level: "INFO", message: "调用大模型", time: "2026-11-26 20:00:00" }),
    ],
  });
  const startNode = nodeLog({
    sid,
    node_id: "node-start::0001",
    node_type: "node-start",
    node_name: "开始",
    func_id: "node-start::0001",
    func_type: "node-start",
    func_name: "开始",
    next_log_ids: [llm.id],
    start_time: start,
    end_time: start + 50,
    duration: 50,
    data: {
      input: { AGENT_USER_INPUT: "明天合肥的天气怎么样？" },
      // 5,100 bytes of UTF-8: past the platform's 5,088-byte offload threshold.
      output: { long: "节".repeat(1700) },
      config: {},
      usage: { question_tokens: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    },
  });
  return {
    service_id: "7394816051212435456",
    sid,
    flow_id: "7394816051212435456",
    app_id: "a01c2bc7",
    uid: "user-10086",
    bot_id: "",
    chat_id: "chat-2b6e9f",
    sub: "workflow",
    caller: "workflow",
    log_caller: "chat_completions",
    question: "明天合肥的天气怎么样？",
    answer: "https://oss.example.com/spark-agent/2026/11/26/answer-77af.txt",
    start_time: start,
    end_time: start + 4_000,
    duration: 4_000,
    first_frame_duration: -1.0,
    srv: { region: "hf" },
    srv_tag: { region: "hf" },
    status: { code: 0, message: "" },
    usage: { question_tokens: 12, prompt_tokens: 320, completion_tokens: 48, total_tokens: 368 },
    version: "v2.0.0",
    trace: [startNode, llm, end],
  };
}

const pg = locatePostgres();

Deno.test("records exactly as the platform's code writes them read back with no difference in value", async (t) => {
  const backends: [string, () => Promise<{ url?: string; done: () => Promise<void> }>][] = [
    ["SQLite", () => Promise.resolve({ done: () => Promise.resolve() })],
  ];
  if (pg.ok) {
    const source = pg.value;
    backends.push(["PostgreSQL", async () => {
      const db = await testDatabase(source);
      return { url: db.url, done: () => db[Symbol.asyncDispose]() };
    }]);
  } else if (Deno.env.get("CI") === "true") {
    throw new Error(pg.reason);
  }
  for (const [name, open] of backends) {
    await t.step(name, async () => {
      const backend = await open();
      try {
        await using api = await serveTraces({ url: backend.url });
        const record = workflowLog(`spf00010001@hf${crypto.randomUUID().slice(0, 8)}`);
        const posted = await api.call("/api/v1/traces", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(record),
        });
        assert.equal(posted.status, 202, posted.text);
        assert.deepEqual(posted.json.errors, []);
        assert.deepEqual(posted.json.warnings, [], "nothing the platform writes is a surprise");
        const linked = await api.call(`/api/v1/traces/${record.sid}`);
        const longOut = linked.json.record.trace[0].data.output.long as string;
        assert.match(longOut, /^\/api\/v1\/blobs\/[0-9a-f]{64}$/, "the 5,100-byte field is a link");
        const back = await api.call(`/api/v1/traces/${record.sid}?blobs=inline`);
        assert.equal(back.status, 200, back.text);
        assert.deepEqual(back.json.record, record);
      } finally {
        await backend.done();
      }
    });
  }
});
