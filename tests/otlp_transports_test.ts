/**
 * The OTLP transports in-process, over stand-ins for the store and the
 * metrics sink: the store's outages and a sink's drops as each protocol
 * answers them, and the access rule for clients that are not on loopback
 * (a fake remote address, and this host's own non-loopback address when it
 * has one, since all test traffic is otherwise loopback).
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import root from "@opentelemetry/otlp-transformer/generated/root";
import { Logger } from "../src/log/logger.ts";
import { OtlpIntake } from "../src/otlp/intake.ts";
import { OtlpAccess } from "../src/otlp/access.ts";
import { parseCidr } from "../src/otlp/cidr.ts";
import {
  type GrpcReceiver,
  localExports,
  peerAddress,
  serveGrpc,
} from "../src/otlp/grpc_server.ts";
import { createOtlpApp } from "../src/api/otlp_app.ts";
import { serveHttp } from "../src/api/http_server.ts";
import type { MetricsSink, ReceivedMetric } from "../src/otlp/metric_points.ts";
import type { SpanRecord } from "../src/otlp/traces.ts";
import { type Store, StoreFullError, StoreUnavailableError } from "../src/store/store.ts";
import { grpcCall, PATHS } from "./support/otlp.ts";

// deno-lint-ignore no-explicit-any
const proto = (root as any).opentelemetry.proto;
const TraceRequest = proto.collector.trace.v1.ExportTraceServiceRequest;
const MetricsRequest = proto.collector.metrics.v1.ExportMetricsServiceRequest;
const TraceResponse = proto.collector.trace.v1.ExportTraceServiceResponse;
const MetricsResponse = proto.collector.metrics.v1.ExportMetricsServiceResponse;

const spansRequest: Uint8Array<ArrayBuffer> = TraceRequest.encode(TraceRequest.fromObject({
  resourceSpans: [{
    scopeSpans: [{
      spans: [1, 2, 3].map((i) => ({
        traceId: new Uint8Array(16).fill(9),
        spanId: new Uint8Array(8).fill(i),
        name: `s${i}`,
        startTimeUnixNano: "1767225600000000000",
        endTimeUnixNano: "1767225600100000000",
      })),
    }],
  }],
})).finish();

const metricsRequest: Uint8Array<ArrayBuffer> = MetricsRequest.encode(MetricsRequest.fromObject({
  resourceMetrics: [{
    scopeMetrics: [{
      metrics: [{
        name: "g",
        gauge: { dataPoints: [1, 2, 3, 4].map((i) => ({ asInt: String(i) })) },
      }],
    }],
  }],
})).finish();

/** A store stand-in: takes spans, or fails as told. */
class FakeStore {
  fail?: Error;
  refuse = 0;
  spans: SpanRecord[] = [];
  ingestSpans(spans: SpanRecord[]) {
    if (this.fail) return Promise.reject(this.fail);
    this.spans.push(...spans);
    return Promise.resolve({
      stored: spans.length - this.refuse,
      spooled: 0,
      refused: this.refuse,
    });
  }
}

/** A sink stand-in that keeps at most `room` points. */
class FakeSink implements MetricsSink {
  constructor(public room: number) {}
  taken: ReceivedMetric[] = [];
  take(metrics: ReceivedMetric[]) {
    const points = metrics.reduce((n, m) => n + m.points.length, 0);
    this.taken.push(...metrics);
    const dropped = Math.max(0, points - this.room);
    return Promise.resolve({ taken: points - dropped, dropped });
  }
}

interface Rig {
  store: FakeStore;
  sink: FakeSink;
  intake: OtlpIntake;
  grpc: GrpcReceiver;
  httpPort: number;
  tee: [string, number][];
  close(): Promise<void>;
}

async function rig(host = "127.0.0.1", allowFrom: string[] = [], token = "tok"): Promise<Rig> {
  const store = new FakeStore();
  const sink = new FakeSink(1_000);
  const tee: [string, number][] = [];
  const intake = new OtlpIntake({
    store: store as unknown as Store,
    sink,
    tee: (signal, bytes) => tee.push([signal, bytes.length]),
  });
  const access = new OtlpAccess({
    allowFrom: allowFrom.map((c) => parseCidr(c)!),
    token: () => token,
  });
  const logger = new Logger({ sinks: [] });
  const grpcServer = await serveGrpc({
    listen: { host, port: 0 },
    maxMessage: 1 << 20,
    exports: localExports({ intake, access, logger }),
  });
  const app = createOtlpApp({
    intake,
    access,
    maxMessage: () => 1 << 20,
    grpcHint: () => "use the gRPC port",
    logger,
  });
  const http = await serveHttp({
    hostname: host,
    port: 0,
    headerTimeout: 5_000,
    requestTimeout: 5_000,
    onError: () => new Response("x", { status: 500 }),
  }, (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }));
  return {
    store,
    sink,
    intake,
    grpc: grpcServer,
    httpPort: http.addr.port,
    tee,
    close: async () => {
      await grpcServer.shutdown(1_000);
      await http.shutdown();
    },
  };
}

const protobuf = { "Content-Type": "application/x-protobuf" };

Deno.test("a store that cannot take data now is UNAVAILABLE over gRPC and 503 with Retry-After over HTTP", async (t) => {
  const r = await rig();
  try {
    for (
      const [name, err, retry] of [
        ["unreachable", new StoreUnavailableError("the database is unreachable (refused)"), "5"],
        ["disk full", new StoreFullError("the store's disk is full (ENOSPC)"), "30"],
      ] as const
    ) {
      await t.step(name, async () => {
        r.store.fail = err;
        const g = await grpcCall(r.grpc.addr.port, PATHS.traces, spansRequest);
        assert.equal(g.code, grpc.status.UNAVAILABLE);
        assert.match(g.details, new RegExp(err.message.replace(/[()]/g, "\\$&")));
        const res = await fetch(`http://127.0.0.1:${r.httpPort}/v1/logs`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: "x" } }] }] }],
          }),
        });
        assert.equal(res.status, 503);
        assert.equal(res.headers.get("retry-after"), retry);
        assert.equal((await res.json()).code, 14);
      });
    }
    await t.step("nothing was teed or counted as received", () => {
      assert.deepEqual(r.tee, []);
      const traces = r.intake.stats().counts.find((c) => c.signal === "traces")!;
      assert.equal(traces.received, 0);
      assert.equal(traces.requests.unavailable, 2);
    });
  } finally {
    await r.close();
  }
});

Deno.test("points the sink drops and spans the store refuses come back as partial success", async () => {
  const r = await rig();
  try {
    r.sink.room = 1;
    const g = await grpcCall(r.grpc.addr.port, PATHS.metrics, metricsRequest);
    assert.equal(g.code, 0);
    assert.deepEqual(MetricsResponse.toObject(MetricsResponse.decode(g.value), { longs: String }), {
      partialSuccess: {
        rejectedDataPoints: "3",
        errorMessage: "3 points dropped: their series are over otlp_receiver.max_series",
      },
    });
    r.store.refuse = 2;
    const res = await fetch(`http://127.0.0.1:${r.httpPort}/v1/traces`, {
      method: "POST",
      headers: protobuf,
      body: spansRequest,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-protobuf");
    const body = TraceResponse.toObject(
      TraceResponse.decode(new Uint8Array(await res.arrayBuffer())),
      { longs: String },
    );
    assert.deepEqual(body, {
      partialSuccess: { rejectedSpans: "2", errorMessage: "2 spans refused by the database" },
    });
    assert.deepEqual(r.tee, [["metrics", metricsRequest.length], ["traces", spansRequest.length]]);
  } finally {
    await r.close();
  }
});

Deno.test("OTLP/HTTP from an address that is not loopback nor allowed needs the write token", async (t) => {
  const intake = new OtlpIntake({ store: new FakeStore() as unknown as Store });
  const app = createOtlpApp({
    intake,
    access: new OtlpAccess({ allowFrom: [parseCidr("172.16.0.0/12")!], token: () => "tok" }),
    maxMessage: () => 1 << 20,
    grpcHint: () => "x",
    logger: new Logger({ sinks: [] }),
  });
  const send = (hostname: string, headers: Record<string, string> = {}) =>
    app.fetch(
      new Request("http://otlp/v1/traces", {
        method: "POST",
        headers: { ...protobuf, ...headers },
        body: spansRequest,
      }),
      { remoteAddr: { transport: "tcp", hostname, port: 40000 } },
    );
  await t.step("a stranger is refused with 401 and a google.rpc.Status", async () => {
    const res = await send("203.0.113.9");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="astron-watch"');
    const Shape = proto.collector.trace.v1.ExportTracePartialSuccess;
    const status = Shape.toObject(Shape.decode(new Uint8Array(await res.arrayBuffer())), {
      longs: Number,
    });
    assert.equal(status.rejectedSpans, 16, "UNAUTHENTICATED");
    assert.match(status.errorMessage, /203\.0\.113\.9 is not in otlp_receiver\.allow_from/);
  });
  await t.step("a wrong token is refused", async () => {
    assert.equal((await send("203.0.113.9", { Authorization: "Bearer nope" })).status, 401);
  });
  await t.step("the write token lets a stranger in", async () => {
    assert.equal((await send("203.0.113.9", { Authorization: "Bearer tok" })).status, 200);
  });
  await t.step("an allowed compose address needs no token", async () => {
    assert.equal((await send("172.18.0.4")).status, 200);
    assert.equal((await send("::ffff:172.18.0.4")).status, 200);
  });
  await t.step("the refusals were counted", () => {
    const c = intake.stats().counts.find((c) => c.transport === "http")!;
    assert.equal(c.requests.unauthenticated, 2);
    assert.equal(c.requests.ok, 3);
  });
});

/** This host's first non-loopback IPv4 address, if it has one. */
function hostAddress(): string | undefined {
  return Deno.networkInterfaces().find((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    ?.address;
}

const HOST = hostAddress();

Deno.test({
  name:
    "gRPC and HTTP from this host's own non-loopback address: refused without a token, taken with it or when allowed",
  // This host has no non-loopback IPv4 address to connect from.
  ignore: HOST === undefined,
  async fn(t) {
    const host = HOST!;
    for (const allowed of [false, true]) {
      await t.step(allowed ? `with allow_from ${host}/32` : "without allow_from", async () => {
        const r = await rig(host, allowed ? [`${host}/32`] : []);
        try {
          const none = await grpcCall(r.grpc.addr.port, PATHS.traces, spansRequest, {}, host);
          assert.equal(none.code, allowed ? 0 : grpc.status.UNAUTHENTICATED, none.details);
          if (!allowed) {
            assert.match(none.details, new RegExp(`${host.replaceAll(".", "\\.")} is not in`));
          }
          const withToken = await grpcCall(r.grpc.addr.port, PATHS.traces, spansRequest, {
            metadata: { authorization: "Bearer tok" },
          }, host);
          assert.equal(withToken.code, 0);
          const wrong = await grpcCall(r.grpc.addr.port, PATHS.traces, spansRequest, {
            metadata: { authorization: "Bearer nope" },
          }, host);
          assert.equal(wrong.code, allowed ? 0 : grpc.status.UNAUTHENTICATED);
          const http = await fetch(`http://${host}:${r.httpPort}/v1/traces`, {
            method: "POST",
            headers: protobuf,
            body: spansRequest,
          });
          assert.equal(http.status, allowed ? 200 : 401);
          await http.body?.cancel();
        } finally {
          await r.close();
        }
      });
    }
  },
});

Deno.test("grpc-js peers name the client's address, IPv4 or IPv6", () => {
  assert.equal(peerAddress("10.0.0.7:51234"), "10.0.0.7");
  assert.equal(peerAddress("::1:51234"), "::1");
  assert.equal(peerAddress("::ffff:172.17.0.2:4000"), "::ffff:172.17.0.2");
  assert.equal(peerAddress("[fd00::2]:4000"), "fd00::2");
  assert.equal(peerAddress("unknown"), undefined);
});
