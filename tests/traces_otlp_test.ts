import assert from "node:assert/strict";
import { SpanStatusCode } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import root from "@opentelemetry/otlp-transformer/generated/root";
import { serveTraces, TOKEN } from "./fixtures/trace_server.ts";
import { chatRun } from "./fixtures/workflow.ts";

type Make = (url: string, gzip: boolean) => SpanExporter;

const exporters: [string, Make][] = [
  ["protobuf", (url, gzip) =>
    new ProtoExporter({
      url,
      headers: { Authorization: `Bearer ${TOKEN}` },
      compression: (gzip ? "gzip" : "none") as never,
    })],
  ["JSON", (url, gzip) =>
    new JsonExporter({
      url,
      headers: { Authorization: `Bearer ${TOKEN}` },
      compression: (gzip ? "gzip" : "none") as never,
    })],
];

for (const [kind, make] of exporters) {
  for (const gzip of [false, true]) {
    Deno.test(`spans sent by the SDK's OTLP ${kind} exporter${gzip ? " (gzip)" : ""} appear on their run`, async () => {
      await using api = await serveTraces();
      const run = chatRun();
      await api.call("/api/v1/traces", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(run),
      });
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ "service.name": "core-workflow", "dc": "hf" }),
        spanProcessors: [new SimpleSpanProcessor(make(`${api.base}/v1/traces`, gzip))],
      });
      const tracer = provider.getTracer("service_trace");
      const parent = tracer.startSpan("workflow.chat", {
        attributes: {
          sid: run.sid,
          app_id: run.app_id!,
          uid: run.uid!,
          chat_id: run.chat_id!,
          span_version: "v1",
          code: 0,
        },
      });
      parent.addEvent("INFO", { "INFO LOG": "开始执行工作流" });
      const child = tracer.startSpan("llm.call", {
        attributes: { sid: run.sid, code: 20204, error: true, tokens: [1, 2, 3] },
      });
      child.addEvent("ERROR", { "ERROR LOG": "Timeout: 读取超时", error: true });
      child.setStatus({ code: SpanStatusCode.ERROR, message: "Timeout" });
      child.end();
      parent.end();
      tracer.startSpan("unrelated").end();
      await provider.forceFlush();
      await provider.shutdown();

      const detail = await api.call(`/api/v1/traces/${encodeURIComponent(run.sid)}`);
      assert.equal(detail.status, 200);
      const spans = detail.json.spans as {
        name: string;
        trace_id: string;
        span_id: string;
        attributes: Record<string, unknown>;
        events: { name: string; attributes: Record<string, unknown> }[];
        status: { code: number; message: string };
        resource: Record<string, unknown>;
        scope: { name: string };
      }[];
      assert.deepEqual(spans.map((s) => s.name).sort(), ["llm.call", "workflow.chat"]);
      const p = spans.find((s) => s.name === "workflow.chat")!;
      const c = spans.find((s) => s.name === "llm.call")!;
      assert.equal(p.span_id, parent.spanContext().spanId);
      assert.equal(p.trace_id, parent.spanContext().traceId);
      assert.deepEqual(p.attributes, {
        sid: run.sid,
        app_id: run.app_id,
        uid: run.uid,
        chat_id: run.chat_id,
        span_version: "v1",
        code: 0,
      });
      assert.deepEqual(p.events.map((e) => [e.name, e.attributes]), [[
        "INFO",
        { "INFO LOG": "开始执行工作流" },
      ]]);
      assert.deepEqual(c.events[0].attributes, { "ERROR LOG": "Timeout: 读取超时", error: true });
      assert.deepEqual(c.attributes.tokens, [1, 2, 3]);
      assert.deepEqual(c.status, { code: 2, message: "Timeout" });
      assert.equal(p.resource["service.name"], "core-workflow");
      assert.equal(p.scope.name, "service_trace");
      const all = await api.store.backend.db.selectFrom("spans").select("name").execute();
      assert.equal(all.length, 3, "spans without a sid are kept too");
    });
  }
}

Deno.test("OTLP requests of the wrong type or shape are refused with 4xx", async (t) => {
  await using api = await serveTraces();
  const cases: [string, Record<string, string>, BodyInit, number, RegExp][] = [
    ["text/plain", { "Content-Type": "text/plain" }, "x", 415, /application\/x-protobuf/],
    [
      "garbage protobuf",
      { "Content-Type": "application/x-protobuf" },
      new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]),
      400,
      /not an OTLP/,
    ],
    ["broken JSON", { "Content-Type": "application/json" }, "{", 400, /invalid JSON/],
    [
      "a list for resourceSpans",
      { "Content-Type": "application/json" },
      '{"resourceSpans":{}}',
      400,
      /resourceSpans: expected a list/,
    ],
  ];
  for (const [name, headers, body, status, message] of cases) {
    await t.step(`${name} gets ${status}`, async () => {
      const res = await api.call("/v1/traces", { method: "POST", headers, body });
      assert.equal(res.status, status, res.text);
      assert.match(res.json.error.message, message);
    });
  }
  await t.step("a span with a bad id is rejected alone (partial success)", async () => {
    const span = (id: string) => ({
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: id,
      name: "s",
      startTimeUnixNano: "1767225600000000000",
      endTimeUnixNano: "1767225600100000000",
    });
    const res = await api.call("/v1/traces", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [span("eee19b7ec3c1b174"), span("zz")] }] }],
      }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.partialSuccess.rejectedSpans, "1");
    assert.match(res.json.partialSuccess.errorMessage, /spans\[1\]\.spanId/);
  });
});

Deno.test("a span with a large bytes attribute is stored, not a 500", async () => {
  await using api = await serveTraces();
  // deno-lint-ignore no-explicit-any
  const proto = (root as any).opentelemetry.proto;
  const request = proto.collector.trace.v1.ExportTraceServiceRequest.encode({
    resourceSpans: [{
      scopeSpans: [{
        spans: [{
          traceId: new Uint8Array(16).fill(1),
          spanId: new Uint8Array(8).fill(2),
          name: "upload",
          startTimeUnixNano: 1_764_000_000_000_000_000n.toString(),
          endTimeUnixNano: 1_764_000_000_100_000_000n.toString(),
          attributes: [
            { key: "sid", value: { stringValue: "spf-bytes-1" } },
            { key: "payload", value: { bytesValue: new Uint8Array(300_000).fill(7) } },
          ],
        }],
      }],
    }],
  }).finish();
  const answer = await api.call("/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/x-protobuf" },
    body: request,
  });
  assert.equal(answer.status, 200, answer.text);
});
