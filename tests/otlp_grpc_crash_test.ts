/**
 * A known crash of the runtime, not of our code: under Deno 2.9.6, after
 * grpc-js refuses a message over `max_message` while it is still being
 * uploaded (RESOURCE_EXHAUSTED), a few concurrent gRPC calls on new
 * connections often abort the whole process inside Deno's `node:http2`
 * (nghttp2 `find_stream_on_goaway_func: Assertion stream->closed_next ==
 * NULL`, or SIGSEGV), before any JavaScript runs; see denoland/deno#36788
 * (open, same assertion). Plain grpc-js on Deno shows it too, so no handler
 * of ours can catch it. Ignored unless `ASTRON_WATCH_TEST_DENO_H2_CRASH=1`:
 * run it to see whether a Deno upgrade fixed it.
 */

import assert from "node:assert/strict";
import root from "@opentelemetry/otlp-transformer/generated/root";
import { grpcCall, PATHS, spawnOtlpAgent } from "./support/otlp.ts";

// deno-lint-ignore no-explicit-any
const MetricsRequest = (root as any).opentelemetry.proto.collector.metrics.v1
  .ExportMetricsServiceRequest;

function series(n: number, from = 0): Uint8Array {
  return MetricsRequest.encode(MetricsRequest.fromObject({
    resourceMetrics: [{
      scopeMetrics: [{
        metrics: [{
          name: "burst_gauge",
          gauge: {
            dataPoints: Array.from({ length: n }, (_, i) => ({
              attributes: [{ key: "id", value: { stringValue: `series-${from + i}` } }],
              asInt: String(i),
            })),
          },
        }],
      }],
    }],
  })).finish();
}

Deno.test({
  name:
    "KNOWN RUNTIME BUG (Deno 2.9.6 node:http2, denoland/deno#36788): concurrent gRPC calls after an oversized one do not abort the agent",
  ignore: Deno.env.get("ASTRON_WATCH_TEST_DENO_H2_CRASH") !== "1",
  async fn() {
    const a = await spawnOtlpAgent("  max_message: 256KiB\n");
    try {
      for (let round = 0; round < 3; round++) {
        await grpcCall(a.grpcPort, PATHS.metrics, series(100_000));
        await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) => grpcCall(a.grpcPort, PATHS.metrics, series(5000, i * 5000)),
          ),
        );
      }
      const health = await a.agent.fetch("/healthz");
      assert.equal(await health.text(), "ok\n", a.agent.text());
    } finally {
      await a.stop().catch(() => {});
    }
  },
});
