/**
 * Test support: an OTLP receiver on loopback, over gRPC (@grpc/grpc-js) and
 * OTLP/HTTP protobuf (`Deno.serve`), decoding requests with the code
 * generated from the official OTLP .proto files (as shipped by
 * @opentelemetry/otlp-transformer).
 */

import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import root from "@opentelemetry/otlp-transformer/generated/root";

// deno-lint-ignore no-explicit-any
const proto = (root as any).opentelemetry.proto;

/** A decoded attribute list as a plain object. */
export type Attrs = Record<string, unknown>;

/** What a receiver got: metric data points and spans, decoded. */
export interface Received {
  metrics: { name: string; attributes: Attrs }[];
  spans: { name: string; attributes: Attrs; status?: number }[];
  /** The `x-team` header (or gRPC metadata) of the last request, if any. */
  team?: string;
}

// deno-lint-ignore no-explicit-any
function attrs(list: any[] | undefined): Attrs {
  const out: Attrs = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.stringValue ?? v.intValue?.toString() ?? v.doubleValue ?? v.boolValue;
  }
  return out;
}

function collect(into: Received, kind: "metrics" | "traces", bytes: Uint8Array): void {
  if (kind === "metrics") {
    const req = proto.collector.metrics.v1.ExportMetricsServiceRequest.decode(bytes);
    for (const rm of req.resourceMetrics) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          const points = m.sum?.dataPoints ?? m.gauge?.dataPoints ?? m.histogram?.dataPoints ?? [];
          for (const p of points) {
            into.metrics.push({ name: m.name, attributes: attrs(p.attributes) });
          }
        }
      }
    }
  } else {
    const req = proto.collector.trace.v1.ExportTraceServiceRequest.decode(bytes);
    for (const rs of req.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          into.spans.push({
            name: s.name,
            attributes: attrs(s.attributes),
            status: s.status?.code,
          });
        }
      }
    }
  }
}

/**
 * An OTLP/gRPC receiver on a loopback port, in a process of its own: under
 * Deno 2.9.6 a grpc-js server can abort its whole process when a client
 * closes its connection (denoland/deno#36788), and the test runner must
 * not be that process. What it receives arrives as JSON lines.
 */
export async function grpcReceiver(
  port = 0,
): Promise<Received & { port: number; close(): Promise<void> }> {
  const received: Received = { metrics: [], spans: [] };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./grpc_receiver_process.ts", import.meta.url).pathname,
      String(port),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const next = async (): Promise<Record<string, unknown> | undefined> => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return JSON.parse(line);
      }
      const { value, done } = await lines.read();
      if (done) return undefined;
      buffered += value;
    }
  };
  const first = await next();
  if (!first || typeof first.port !== "number") {
    child.kill();
    await child.status;
    throw new Error("the gRPC receiver process did not start");
  }
  const reading = (async () => {
    for (let item = await next(); item; item = await next()) {
      if ("team" in item) received.team = (item.team as string | null) ?? undefined;
      if (item.metric) received.metrics.push(item.metric as Received["metrics"][number]);
      if (item.span) received.spans.push(item.span as Received["spans"][number]);
    }
  })();
  return Object.assign(received, {
    port: first.port,
    async close() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await reading.catch(() => {});
    },
  });
}

/** The in-process OTLP/gRPC receiver the receiver process runs (see {@linkcode grpcReceiver}). */
export async function serveGrpcInProcess(
  port: number,
  onItem: (item: Record<string, unknown>) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  const raw = {
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Uint8Array) => b,
    requestDeserialize: (b: Uint8Array) => b,
    responseSerialize: () => Buffer.alloc(0),
    responseDeserialize: (b: Uint8Array) => b,
  };
  for (const kind of ["metrics", "traces"] as const) {
    const service = kind === "metrics" ? "metrics.v1.MetricsService" : "trace.v1.TraceService";
    server.addService(
      // deno-lint-ignore no-explicit-any
      { Export: { ...raw, path: `/opentelemetry.proto.collector.${service}/Export` } } as any,
      {
        // deno-lint-ignore no-explicit-any
        Export: (call: any, cb: any) => {
          const into: Received = { metrics: [], spans: [] };
          collect(into, kind, call.request);
          onItem({ team: call.metadata.get("x-team")[0]?.toString() ?? null });
          for (const metric of into.metrics) onItem({ metric });
          for (const span of into.spans) onItem({ span });
          cb(null, new Uint8Array(0));
        },
      },
    );
  }
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${port}`,
      grpc.ServerCredentials.createInsecure(),
      (e, p) => e ? reject(e) : resolve(p),
    )
  );
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** An OTLP/HTTP protobuf receiver on a loopback port (`/v1/metrics`, `/v1/traces`). */
export function httpReceiver(port = 0): Received & { port: number; close(): Promise<void> } {
  const received: Received = { metrics: [], spans: [] };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const kind = path === "/v1/metrics" ? "metrics" : path === "/v1/traces" ? "traces" : undefined;
    if (!kind || req.headers.get("content-type") !== "application/x-protobuf") {
      return new Response("unexpected", { status: 400 });
    }
    received.team = req.headers.get("x-team") ?? undefined;
    collect(received, kind, new Uint8Array(await req.arrayBuffer()));
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  return Object.assign(received, { port: server.addr.port, close: () => server.shutdown() });
}
