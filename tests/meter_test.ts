import assert from "node:assert/strict";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { PlatformMetrics } from "../src/metrics/meter.ts";
import { PullMetricReader, scrape } from "../src/metrics/prometheus.ts";

const LABELS = { dc: "hf", server_host: "10.0.0.7", server_name: "rpa", pid: 42 };

Deno.test("the Meter facade counts success and errors with ret, latency in the platform's milliseconds without ret, and in-flight", async () => {
  const reader = new PullMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new PlatformMetrics({ provider, labels: LABELS });
  const ok = metrics.meter({ kind: "server", app_id: "app1", func: "chat" });
  ok.begin();
  const inFlight = await scrape(reader);
  assert.match(inFlight, /^server_conc\{[^}]*func="chat"[^}]*\} 1$/m);
  ok.inSuccessCount({ durationMs: 2.5 });
  metrics.meter({ kind: "server", app_id: "app1", func: "chat" }).inErrorCount(20204, {
    durationMs: 1,
  });
  metrics.meter({ kind: "rely", func: "mysql" }).inErrorCount("timeout", {}, false);
  const text = await scrape(reader);
  const base =
    'app_id="app1",func="chat",dc="hf",server_host="10.0.0.7",server_name="rpa",pid="42"';
  assert.match(text, new RegExp(`^server_request_total\\{${base},ret="0"\\} 1$`, "m"));
  assert.match(text, new RegExp(`^server_request_total\\{${base},ret="20204"\\} 1$`, "m"));
  // Milliseconds, as the platform's Meter.in_histogram records them, and no ret on histograms:
  // the success's 2.5 and the error's 1.
  assert.match(text, new RegExp(`^server_request_time_microseconds_sum\\{${base}\\} 3.5$`, "m"));
  assert.match(text, new RegExp(`^server_request_time_microseconds_count\\{${base}\\} 2$`, "m"));
  // The SDK's default buckets, as the platform's.
  const bounds = [...text.matchAll(/^server_request_time_microseconds_bucket\{[^}]*le="([^"]+)"/gm)]
    .map((m) => m[1]);
  assert.deepEqual(bounds, [
    "0",
    "5",
    "10",
    "25",
    "50",
    "75",
    "100",
    "250",
    "500",
    "750",
    "1000",
    "2500",
    "5000",
    "7500",
    "10000",
    "+Inf",
  ]);
  assert.match(text, /^server_conc\{[^}]*func="chat"[^}]*\} 0$/m);
  assert.match(text, /^rely_server_request_total\{[^}]*func="mysql"[^}]*ret="timeout"\} 1$/m);
  assert.doesNotMatch(
    text,
    /^rely_server_request_time_count\{[^}]*ret="timeout"/m,
    "inHistogram=false records no latency",
  );
  await provider.shutdown();
});
