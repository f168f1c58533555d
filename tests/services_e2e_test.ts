/**
 * End to end, as a platform service does it: the OpenTelemetry SDK's own
 * OTLP/gRPC metric exporter sends `server_request_total` (with `ret`) and
 * `server_request_time_microseconds` (milliseconds, the SDK's default
 * buckets) to a running agent, and `/api/v1/services` answers the request
 * count, error ratio and latency percentiles of that stream.
 */

import assert from "node:assert/strict";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { spawnOtlpAgent } from "./support/otlp.ts";

Deno.test("platform metrics sent by the SDK's gRPC exporter show in /api/v1/services", async () => {
  const a = await spawnOtlpAgent();
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `http://127.0.0.1:${a.grpcPort}` }),
    exportIntervalMillis: 3_600_000, // exported by hand, below
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": "core-workflow" }),
    readers: [reader],
  });
  try {
    const meter = provider.getMeter("service_trace");
    const requests = meter.createCounter("server_request_total");
    const latency = meter.createHistogram("server_request_time_microseconds");
    const labels = { dc: "", server_host: "10.0.0.9", server_name: "core-workflow", pid: 7 };
    // As the platform's Meter: a counter point with ret, a histogram point (ms) without.
    const serve = (func: string, ret: number, ms: number) => {
      requests.add(1, { ...labels, app_id: "app1", func, ret });
      latency.record(ms, { ...labels, app_id: "app1", func });
    };
    // The first export is each series' baseline (its cumulative start may predate the agent).
    serve("chat", 0, 10);
    await reader.forceFlush();
    for (let i = 0; i < 95; i++) serve("chat", 0, 20);
    for (let i = 0; i < 5; i++) serve("chat", 20204, 900);
    await reader.forceFlush();

    let chat:
      | { requests: number; error_ratio: number; latency_ms: { p50: number; p99: number } }
      | undefined;
    for (let tries = 0; tries < 100 && !chat; tries++) {
      const body = await (await a.agent.fetch("/api/v1/services")).json();
      const service = body.services?.find((s: { service: string }) =>
        s.service === "core-workflow"
      );
      chat = service?.funcs?.find((f: { func: string }) => f.func === "chat");
      if (!chat || chat.requests < 100) {
        chat = undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(chat, "core-workflow's chat func in /api/v1/services");
    assert.equal(chat.requests, 100);
    assert.equal(chat.error_ratio, 0.05);
    // 95 at 20 ms (bucket 10..25) and 5 at 900 ms (bucket 750..1000), interpolated.
    assert.ok(chat.latency_ms.p50 > 10 && chat.latency_ms.p50 <= 25, JSON.stringify(chat));
    assert.ok(chat.latency_ms.p99 > 750 && chat.latency_ms.p99 <= 1000, JSON.stringify(chat));
  } finally {
    await provider.shutdown();
    await a.stop();
  }
});
