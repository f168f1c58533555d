/**
 * An `error_ratio` rule over the platform's own `server_request_total`,
 * sent as a platform service sends it (the OpenTelemetry SDK's OTLP/HTTP
 * protobuf exporter, `ret` other than 0 an error): it fires when the stream
 * crosses 1% and resolves when it falls back under.
 */

import assert from "node:assert/strict";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { spawnOtlpAgent } from "./support/otlp.ts";
import { Receiver } from "./support/receivers.ts";

interface Body {
  alerts: { status: string; rule: string; labels: Record<string, string>; value: number }[];
}

Deno.test("alerts: error_ratio over server_request_total received over OTLP fires past 1% and resolves under it", async () => {
  const hook = await Receiver.start();
  const a = await spawnOtlpAgent(`alerts:
  evaluation_interval: 100ms
  group_wait: 0s
  channels:
    hook: { type: webhook, url: "${hook.url}/hook" }
  rules:
    - name: workflow-error-ratio
      error_ratio: { source: otlp, service: core-workflow, window: 1m, threshold: 1%, min_requests: 50 }
      severity: critical
      channels: [hook]
`);
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `http://127.0.0.1:${a.httpPort}/v1/metrics` }),
    exportIntervalMillis: 3_600_000, // exported by hand, below
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": "core-workflow" }),
    readers: [reader],
  });
  const events = (status: string) =>
    hook.json<Body>().flatMap((b) => b.alerts)
      .filter((x) => x.rule === "workflow-error-ratio" && x.status === status);
  try {
    const requests = provider.getMeter("service_trace").createCounter("server_request_total");
    const labels = { dc: "", server_host: "10.0.0.9", server_name: "core-workflow", pid: 7 };
    const serve = (n: number, ret: number) => {
      for (let i = 0; i < n; i++) requests.add(1, { ...labels, func: "chat", ret });
    };
    // The first export is each series' baseline (its cumulative start may predate the agent).
    serve(1, 0);
    serve(1, 20204);
    await reader.forceFlush();
    serve(96, 0);
    serve(3, 20204); // 3 of 99: 3%
    await reader.forceFlush();
    await hook.waitFor(() => events("firing").length >= 1);
    const fired = events("firing")[0];
    assert.equal(fired.labels.service, "core-workflow");
    assert.ok(Math.abs(fired.value - 3 / 99) < 1e-9, String(fired.value));

    serve(400, 0); // 3 of 499: 0.6%
    await reader.forceFlush();
    await hook.waitFor(() => events("resolved").length >= 1);
    assert.equal(events("firing").length, 1);
    assert.equal(events("resolved").length, 1);
  } finally {
    await provider.shutdown();
    await a.stop();
    await hook.close();
  }
});
