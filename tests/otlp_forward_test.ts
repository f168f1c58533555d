/**
 * Forwarding to an upstream collector: what is accepted while the upstream
 * is down waits on disk and arrives, in order and once, when it is back;
 * over gRPC and OTLP/HTTP; the queue is bounded (drops counted), a refusal
 * does not block it, and a restart resumes it. The agent forwards what it
 * takes as OTLP/JSON too, encoded to protobuf.
 */

import assert from "node:assert/strict";
import root from "@opentelemetry/otlp-transformer/generated/root";
import { Forwarder, type ForwarderOptions } from "../src/otlp/forward.ts";
import { Logger } from "../src/log/logger.ts";
import { grpcReceiver, httpReceiver } from "./support/otlp_receiver.ts";
import { freePort } from "./support/servers.ts";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { spawnOtlpAgent } from "./support/otlp.ts";
import { decodeRequest, encodeJsonRequest, SERVICES } from "../src/otlp/proto.ts";

// deno-lint-ignore no-explicit-any
const Request = (root as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** An ExportTraceServiceRequest with one span named `name`. */
function request(name: string): Uint8Array {
  const message = Request.fromObject({
    resourceSpans: [{
      scopeSpans: [{
        spans: [{
          traceId: new Uint8Array(16).fill(1),
          spanId: new Uint8Array(8).fill(2),
          name,
          startTimeUnixNano: 1,
          endTimeUnixNano: 2,
        }],
      }],
    }],
  });
  return Request.encode(message).finish();
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function forwarder(upstream: string, dir: string, more: Partial<ForwarderOptions> = {}) {
  const f = new Forwarder({
    upstream,
    dir,
    logger: new Logger(),
    backoff: { first: 20, max: 100 },
    timeout: 2_000,
    ...more,
  });
  await f.start();
  return f;
}

const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `span-${from + i}`);

for (const transport of ["grpc", "http"] as const) {
  Deno.test(`forwarding over ${transport}: requests accepted while the upstream is down arrive in order, once, when it is back`, async () => {
    const dir = await Deno.makeTempDir();
    const port = freePort();
    const upstream = transport === "grpc" ? `127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
    const f = await forwarder(upstream, dir);
    let up: Awaited<ReturnType<typeof grpcReceiver>> | undefined;
    try {
      for (const name of names(20)) f.enqueue("traces", request(name));
      await f.settled();
      await until("a failed attempt", () => f.stats().failures > 0);
      assert.equal(f.stats().queued, 20);
      up = transport === "grpc" ? await grpcReceiver(port) : httpReceiver(port);
      await until("everything sent", () => f.stats().sent === 20);
      assert.deepEqual(up.spans.map((s) => s.name), names(20));
      assert.equal(f.stats().queued, 0);
      assert.equal(f.stats().dropped, 0);
    } finally {
      // The client goes first: a server closing under a gRPC client is the crash-prone side.
      await f.stop();
      await up?.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("the forwarding queue is bounded: past it new requests are dropped and counted", async () => {
  const dir = await Deno.makeTempDir();
  // (OTLP/HTTP: a gRPC channel to a port that never opens keeps a backoff timer past its close.)
  const f = await forwarder(`http://127.0.0.1:${freePort()}`, dir, { maxBytes: 2_000 });
  try {
    for (const name of names(100)) f.enqueue("traces", request(name));
    await f.settled();
    const s = f.stats();
    assert.ok(s.dropped > 0, JSON.stringify(s));
    assert.equal(s.queued + s.dropped, 100);
    assert.ok(s.queued_bytes <= 2_000 * 1.1, JSON.stringify(s));
  } finally {
    await f.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a request the upstream refuses is counted and does not hold up the queue", async () => {
  const dir = await Deno.makeTempDir();
  let seen = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    return new Response("no", { status: seen++ === 0 ? 400 : 200 });
  });
  const f = await forwarder(`http://127.0.0.1:${server.addr.port}`, dir);
  try {
    for (const name of names(3)) f.enqueue("traces", request(name));
    await until("all handled", () => f.stats().sent + f.stats().refused === 3);
    assert.equal(f.stats().refused, 1);
    assert.equal(f.stats().sent, 2);
  } finally {
    await f.stop();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what is queued when the agent stops is sent after it starts again", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const first = await forwarder(`http://127.0.0.1:${port}`, dir);
  for (const name of names(5)) first.enqueue("traces", request(name));
  await first.settled();
  await first.stop();
  const up = httpReceiver(port);
  const second = await forwarder(`http://127.0.0.1:${port}`, dir);
  try {
    await until("the queue from before sent", () => second.stats().sent === 5);
    assert.deepEqual(up.spans.map((s) => s.name), names(5));
  } finally {
    await second.stop();
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an OTLP/JSON request is forwarded as protobuf: hex ids become bytes, 64-bit times keep their value", () => {
  const traceId = "5b8efff798038103d269b633813fc60c";
  const spanId = "eee19b7ec3c1b174";
  const bytes = encodeJsonRequest(SERVICES.traces, {
    resourceSpans: [{
      scopeSpans: [{
        spans: [{
          traceId,
          spanId,
          parentSpanId: "",
          name: "json-span",
          kind: 2,
          startTimeUnixNano: "1764115200123456789",
          endTimeUnixNano: "1764115200223456789",
          links: [{ traceId, spanId }],
          attributes: [{ key: "sid", value: { stringValue: "spf-1" } }],
        }],
      }],
    }],
  });
  // deno-lint-ignore no-explicit-any
  const span = (decodeRequest(SERVICES.traces, bytes) as any).resourceSpans[0].scopeSpans[0]
    .spans[0];
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(hex(span.traceId), traceId);
  assert.equal(hex(span.spanId), spanId);
  assert.equal(hex(span.links[0].traceId), traceId);
  assert.equal(span.startTimeUnixNano, "1764115200123456789");
  assert.equal(span.name, "json-span");
  assert.deepEqual(span.attributes, [{ key: "sid", value: { stringValue: "spf-1" } }]);
});

Deno.test("the agent forwards what it takes, from the SDK's JSON exporter as well as protobuf, to a collector that was down for a while", async () => {
  const port = freePort();
  const a = await spawnOtlpAgent(`  forward: http://127.0.0.1:${port}\n`);
  let up: ReturnType<typeof httpReceiver> | undefined;
  try {
    const res = await a.otlpFetch("/v1/traces", {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: new Uint8Array(request("proto-span")),
    });
    assert.equal(res.status, 200, await res.text());
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "core-workflow" }),
      spanProcessors: [
        new SimpleSpanProcessor(
          new JsonExporter({ url: `http://127.0.0.1:${a.httpPort}/v1/traces` }),
        ),
      ],
    });
    const tracer = provider.getTracer("service_trace");
    for (const name of ["json-span-1", "json-span-2"]) {
      tracer.startSpan(name, { attributes: { sid: "spf-forward-1" } }).end();
    }
    await provider.forceFlush();
    await provider.shutdown();
    // A span protobuf cannot carry (an attribute value that is not an object) is
    // stored and answered; the request is not forwarded, and the agent goes on.
    const odd = await a.otlpFetch("/v1/traces", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [{
          scopeSpans: [{
            spans: [{
              traceId: "5b8efff798038103d269b633813fc60d",
              spanId: "eee19b7ec3c1b175",
              name: "odd-span",
              startTimeUnixNano: "1764115200123456789",
              endTimeUnixNano: "1764115200223456789",
              attributes: [{ key: "sid", value: "spf-forward-1" }],
            }],
          }],
        }],
      }),
    });
    assert.equal(odd.status, 200, await odd.text());
    const failed = /astron_watch_otlp_forward_requests_total\{result="failed_attempt"\} [1-9]/;
    for (let i = 0; !failed.test(await (await a.agent.fetch("/metrics")).text()); i++) {
      if (i > 500) throw new Error("no failed attempt on /metrics while the collector was down");
      await new Promise((r) => setTimeout(r, 20));
    }
    up = httpReceiver(port);
    const received = up;
    await until("all three spans upstream", () => received.spans.length === 3);
    assert.deepEqual(received.spans.map((s) => s.name).sort(), [
      "json-span-1",
      "json-span-2",
      "proto-span",
    ]);
    assert.deepEqual(
      received.spans.filter((s) => s.name !== "proto-span").map((s) => s.attributes.sid),
      ["spf-forward-1", "spf-forward-1"],
    );
  } finally {
    await a.stop();
    await up?.close();
  }
});
