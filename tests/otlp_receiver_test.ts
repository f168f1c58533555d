/**
 * The OTLP receiver against a running agent, fed by the OpenTelemetry JS
 * SDK's own exporters as the platform's services would send: OTLP/gRPC
 * (gzip) on the gRPC port, OTLP/HTTP protobuf on the HTTP port, and the
 * API port's OTLP routes; spans and logs join their run by `sid`.
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { OTLPLogExporter as GrpcLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as ProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { chatRun } from "./fixtures/workflow.ts";
import {
  exportOnce,
  grpcCall,
  metricValue,
  type OtlpAgent,
  PATHS,
  spawnOtlpAgent,
  TOKEN,
} from "./support/otlp.ts";
import { spawnAgent } from "./support/agent.ts";

const resource = resourceFromAttributes({ "service.name": "core-workflow", dc: "hf" });

/** Spans made by the SDK's tracer, as a service would end them. */
function makeSpans(sid: string) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer("service_trace");
  const parent = tracer.startSpan("workflow.chat", {
    attributes: { sid, span_version: "v1", code: 0 },
  });
  parent.addEvent("INFO", { "INFO LOG": "开始执行工作流" });
  tracer.startSpan("llm.call", { attributes: { sid, code: 20204 } }).end();
  parent.end();
  return memory.getFinishedSpans();
}

/** A reader the test collects from by hand (the SDK's periodic reader, minus the timer). */
class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The platform's two metrics, recorded as core-workflow does. */
async function makeMetrics() {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter("service_meter");
  const labels = {
    dc: "hf",
    server_host: "10.0.0.5",
    server_name: "core-workflow",
    app_id: "a1",
    func: "chat",
    pid: 7,
  };
  const total = meter.createCounter("server_request_total");
  total.add(41, { ...labels, ret: 0 });
  total.add(2, { ...labels, ret: 20204 });
  meter.createHistogram("server_request_time_microseconds").record(12.5, labels);
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  await provider.shutdown();
  return resourceMetrics;
}

/** Log records made by the SDK's logger, with the run's sid. */
function makeLogs(sid: string) {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor(memory)],
  });
  const logger = provider.getLogger("loguru");
  logger.emit({
    severityNumber: SeverityNumber.INFO,
    severityText: "INFO",
    body: "节点开始",
    attributes: { sid },
  });
  logger.emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: "ERROR",
    body: "Timeout: 读取超时",
    attributes: { sid, code: 20204 },
  });
  return memory.getFinishedLogRecords();
}

interface StoredSpan {
  name: string;
  span_id: string;
  parent_span_id: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
}

async function postRun(agent: OtlpAgent) {
  const run = chatRun();
  const res = await agent.agent.fetch("/api/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(run),
  });
  assert.equal(res.status, 202, await res.text());
  return run.sid;
}

async function runSpans(agent: OtlpAgent, sid: string): Promise<StoredSpan[]> {
  const res = await agent.agent.fetch(`/api/v1/traces/${encodeURIComponent(sid)}`);
  assert.equal(res.status, 200);
  return (await res.json()).spans;
}

Deno.test("the SDK's exporters send traces, metrics and logs to the receiver, over gRPC and OTLP/HTTP", async (t) => {
  const a = await spawnOtlpAgent();
  try {
    const grpcUrl = `http://127.0.0.1:${a.grpcPort}`;
    const httpUrl = `http://127.0.0.1:${a.httpPort}`;

    await t.step("spans from the gRPC exporter (gzip) join their run by sid", async () => {
      const sid = await postRun(a);
      const result = await exportOnce(
        new GrpcTraceExporter({ url: grpcUrl, compression: "gzip" as never }),
        makeSpans(sid),
      );
      assert.equal(result.code, 0, result.error?.message ?? "");
      const spans = await runSpans(a, sid);
      assert.deepEqual(spans.map((s) => s.name).sort(), ["llm.call", "workflow.chat"]);
      const parent = spans.find((s) => s.name === "workflow.chat")!;
      assert.deepEqual(parent.events.map((e) => [e.name, e.attributes]), [["INFO", {
        "INFO LOG": "开始执行工作流",
      }]]);
      assert.equal(parent.resource["service.name"], "core-workflow");
    });

    await t.step(
      "spans from the HTTP/protobuf exporter on the OTLP/HTTP port join their run, no token needed on loopback",
      async () => {
        const sid = await postRun(a);
        const result = await exportOnce(
          new ProtoTraceExporter({ url: `${httpUrl}/v1/traces`, compression: "gzip" as never }),
          makeSpans(sid),
        );
        assert.equal(result.code, 0, result.error?.message ?? "");
        assert.equal((await runSpans(a, sid)).length, 2);
      },
    );

    await t.step(
      "log records from the gRPC and HTTP exporters are kept as span events on their run",
      async () => {
        const sid = await postRun(a);
        const logs = makeLogs(sid);
        const viaGrpc = await exportOnce(
          new GrpcLogExporter({ url: grpcUrl, compression: "gzip" as never }),
          logs,
        );
        assert.equal(viaGrpc.code, 0, viaGrpc.error?.message ?? "");
        const viaHttp = await exportOnce(new ProtoLogExporter({ url: `${httpUrl}/v1/logs` }), logs);
        assert.equal(viaHttp.code, 0, viaHttp.error?.message ?? "");
        const spans = await runSpans(a, sid);
        assert.deepEqual(
          spans.map((s) => s.name).sort(),
          ["ERROR", "INFO"],
          "the same record twice is kept once",
        );
        const error = spans.find((s) => s.name === "ERROR")!;
        assert.deepEqual(error.events[0].attributes, {
          "ERROR LOG": "Timeout: 读取超时",
          error: true,
        });
        assert.equal(error.attributes["otlp.signal"], "log");
        assert.equal(error.attributes.code, 20204);
      },
    );

    await t.step("metrics from the gRPC and HTTP exporters are accepted and counted", async () => {
      const viaGrpc = await exportOnce(
        new GrpcMetricExporter({ url: grpcUrl, compression: "gzip" as never }),
        await makeMetrics(),
      );
      assert.equal(viaGrpc.code, 0, viaGrpc.error?.message ?? "");
      const viaHttp = await exportOnce(
        new ProtoMetricExporter({ url: `${httpUrl}/v1/metrics` }),
        await makeMetrics(),
      );
      assert.equal(viaHttp.code, 0, viaHttp.error?.message ?? "");
      assert.equal(
        await metricValue(
          a.agent,
          'astron_watch_otlp_received_total{signal="metrics",transport="grpc"}',
        ),
        3,
      );
      assert.equal(
        await metricValue(
          a.agent,
          'astron_watch_otlp_received_total{signal="metrics",transport="http"}',
        ),
        3,
      );
    });

    await t.step(
      "/metrics counts requests, items and listeners by signal and transport",
      async () => {
        const m = (s: string) => metricValue(a.agent, s);
        assert.equal(
          await m('astron_watch_otlp_received_total{signal="traces",transport="grpc"}'),
          2,
        );
        assert.equal(
          await m('astron_watch_otlp_received_total{signal="logs",transport="http"}'),
          2,
        );
        assert.equal(
          await m('astron_watch_otlp_requests_total{signal="traces",transport="grpc",result="ok"}'),
          1,
        );
        assert.equal(await m('astron_watch_otlp_listening{transport="grpc"}'), 1);
        assert.equal(await m('astron_watch_otlp_listening{transport="http"}'), 1);
      },
    );

    await t.step("/status has a line for the receiver, and JSON its counters", async () => {
      const text = await (await a.agent.fetch("/status")).text();
      assert.match(
        text,
        new RegExp(
          `^otlp receiver: grpc 127\\.0\\.0\\.1:${a.grpcPort} http 127\\.0\\.0\\.1:${a.httpPort}, ` +
            `received spans 4 points 6 log records 4, rejected 0, requests refused 0$`,
          "m",
        ),
      );
      const json = await (await a.agent.fetch("/status?format=json")).json();
      assert.equal(json.otlp_receiver.grpc.addr, `127.0.0.1:${a.grpcPort}`);
      // The agent keeps them: per-minute rollups behind /api/v1/services.
      assert.equal(json.otlp_receiver.metrics_kept, true);
    });

    await t.step(
      "the API port takes OTLP/HTTP metrics and logs with the write token, and counts them as api",
      async () => {
        const body = JSON.stringify({
          resourceLogs: [{
            scopeLogs: [{ logRecords: [{ body: { stringValue: "x" }, severityNumber: 9 }] }],
          }],
        });
        const denied = await a.agent.fetch("/v1/logs", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body,
        });
        assert.equal(denied.status, 401);
        assert.equal((await denied.json()).error.code, "unauthorized");
        const ok = await a.agent.fetch("/v1/logs", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
          body,
        });
        assert.equal(ok.status, 200, await ok.clone().text());
        assert.deepEqual(await ok.json(), {});
        const metrics = await a.agent.fetch("/v1/metrics", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({
            resourceMetrics: [{
              scopeMetrics: [{
                metrics: [
                  { name: "g", gauge: { dataPoints: [{ asInt: "1" }] } },
                  { name: "s", summary: { dataPoints: [{}] } },
                ],
              }],
            }],
          }),
        });
        assert.equal(metrics.status, 200);
        assert.deepEqual(await metrics.json(), {
          partialSuccess: {
            rejectedDataPoints: "1",
            errorMessage:
              "resourceMetrics[0].scopeMetrics[0].metrics[1].summary: not supported (sum, gauge and histogram are)",
          },
        });
        assert.equal(
          await metricValue(
            a.agent,
            'astron_watch_otlp_received_total{signal="logs",transport="api"}',
          ),
          1,
        );
        assert.equal(
          await metricValue(
            a.agent,
            'astron_watch_otlp_rejected_total{signal="metrics",transport="api"}',
          ),
          1,
        );
      },
    );

    await t.step(
      "a gRPC call to the API port gets UNIMPLEMENTED naming the OTLP/gRPC port",
      async () => {
        const answer = await grpcCall(a.agent.port, PATHS.traces, new Uint8Array(0));
        assert.equal(answer.code, grpc.status.UNIMPLEMENTED);
        assert.equal(
          answer.details,
          `this port does not serve gRPC: send OTLP/gRPC to 127.0.0.1:${a.grpcPort} (otlp_receiver.grpc_listen)`,
        );
      },
    );

    await t.step("a gRPC call to the OTLP/HTTP port gets the same answer", async () => {
      const answer = await grpcCall(a.httpPort, PATHS.metrics, new Uint8Array(0));
      assert.equal(answer.code, grpc.status.UNIMPLEMENTED);
      assert.match(answer.details, /send OTLP\/gRPC to 127\.0\.0\.1:\d+/);
    });

    await t.step(
      "OTLP/HTTP JSON on the OTLP port answers partial success for a bad span",
      async () => {
        const span = (id: string) => ({
          traceId: "5b8efff798038103d269b633813fc60c",
          spanId: id,
          name: "s",
          startTimeUnixNano: "1767225600000000000",
          endTimeUnixNano: "1767225600100000000",
        });
        const res = await a.otlpFetch("/v1/traces", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            resourceSpans: [{ scopeSpans: [{ spans: [span("eee19b7ec3c1b174"), span("zz")] }] }],
          }),
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "application/json");
        const body = await res.json();
        assert.equal(body.partialSuccess.rejectedSpans, "1");
        assert.match(body.partialSuccess.errorMessage, /spans\[1\]\.spanId/);
      },
    );
  } finally {
    assert.equal(await a.stop(), 0, a.agent.text());
  }
});

Deno.test("OTLP/gRPC left off (the default): /status says which setting turns it on, and a gRPC call to an HTTP port is told the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-otlp-" });
  try {
    await Deno.writeTextFile(
      `${dir}/astron-watch.yaml`,
      `server:\n  listen: 127.0.0.1:0\nlog:\n  stderr: always\notlp_receiver:\n  http_listen: 127.0.0.1:0\nprobes: []\n`,
    );
    const agent = await spawnAgent({ config: `${dir}/astron-watch.yaml` });
    try {
      const status = await (await agent.fetch("/status")).text();
      assert.match(
        status,
        /^otlp receiver: grpc off \(otlp_receiver\.grpc: false\) http 127\.0\.0\.1:\d+,/m,
      );
      assert.equal(await metricValue(agent, 'astron_watch_otlp_listening{transport="grpc"}'), 0);
      const hint = await grpcCall(agent.port, PATHS.traces, new Uint8Array(0));
      assert.match(
        hint.details,
        /not listening on 127\.0\.0\.1:4317 \(off: otlp_receiver\.grpc: false\)/,
      );
    } finally {
      agent.kill("SIGTERM");
      assert.equal((await agent.exit()).code, 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a receiver port held by another process does not stop the agent: a warning, and /status says so", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = (holder.addr as Deno.NetAddr).port;
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-otlp-" });
  try {
    await Deno.writeTextFile(
      `${dir}/astron-watch.yaml`,
      `server:\n  listen: 127.0.0.1:0\nlog:\n  stderr: always\notlp_receiver:\n  grpc: true\n  grpc_listen: 127.0.0.1:${held}\n  http_listen: 127.0.0.1:0\nprobes: []\n`,
    );
    const agent = await spawnAgent({ config: `${dir}/astron-watch.yaml` });
    try {
      const warning = await agent.waitForLine((l) =>
        l.level === "warn" && /grpc_listen/.test(String(l.msg))
      );
      assert.equal(
        warning.msg,
        `otlp_receiver.grpc_listen 127.0.0.1:${held} is in use (another collector?): not receiving there; the agent goes on`,
      );
      const ready = await agent.fetch("/readyz");
      assert.equal(ready.status, 200, "the agent does its other work");
      await ready.body?.cancel();
      const status = await (await agent.fetch("/status")).text();
      assert.match(
        status,
        new RegExp(
          `^otlp receiver: grpc 127\\.0\\.0\\.1:${held} NOT LISTENING \\(address already in use\\) http 127\\.0\\.0\\.1:\\d+,`,
          "m",
        ),
      );
      assert.equal(await metricValue(agent, 'astron_watch_otlp_listening{transport="grpc"}'), 0);
      assert.equal(await metricValue(agent, 'astron_watch_otlp_listening{transport="http"}'), 1);
      const hint = await grpcCall(agent.port, PATHS.traces, new Uint8Array(0));
      assert.match(
        hint.details,
        new RegExp(`not listening on 127\\.0\\.0\\.1:${held} \\(address already in use\\)`),
      );
    } finally {
      agent.kill("SIGTERM");
      assert.equal((await agent.exit()).code, 0);
    }
  } finally {
    holder.close();
    await Deno.remove(dir, { recursive: true });
  }
});
