import assert from "node:assert/strict";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { PullMetricReader, scrape } from "../src/metrics/prometheus.ts";

Deno.test("a metric name reported by two scopes is one family, its points told apart by scope", async () => {
  const reader = new PullMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  provider.getMeter("agent").createCounter("requests").add(2, { route: "/" });
  provider.getMeter("platform").createCounter("requests").add(5, { route: "/" });
  provider.getMeter("other").createGauge("requests_total").record(1);
  const text = await scrape(reader);
  await provider.shutdown();
  assert.equal(text.match(/^# TYPE requests_total counter$/gm)?.length, 1);
  assert.match(text, /^requests_total\{route="\/",otel_scope_name="agent"\} 2$/m);
  assert.match(text, /^requests_total\{route="\/",otel_scope_name="platform"\} 5$/m);
  assert.match(text, /^# requests_total from scope "other" left out: a gauge, not a counter$/m);
});
