/**
 * Test support for the OTLP receiver: an agent with the receiver on free
 * loopback ports (learned from its "otlp receiver listening" line), the
 * OpenTelemetry SDK's exporters driven one export at a time (so a test sees
 * each export's result), and raw gRPC calls with bytes of our choosing.
 */

import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { type AgentProcess, spawnAgent } from "./agent.ts";

/** The write token the agent is configured with. */
export const TOKEN = "otlp-test-token";

/** A running agent and its ports. */
export interface OtlpAgent {
  agent: AgentProcess;
  dir: string;
  grpcPort: number;
  httpPort: number;
  /** `fetch` on the OTLP/HTTP port. */
  otlpFetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stop with SIGTERM; resolves to the exit code. */
  stop(): Promise<number>;
}

/**
 * Spawn the agent with the receiver on free ports, in a fresh temp dir
 * (removed by `stop`), with `extra` YAML lines under `otlp_receiver:`.
 */
export async function spawnOtlpAgent(extra = ""): Promise<OtlpAgent> {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-otlp-" });
  const config = `${dir}/astron-watch.yaml`;
  await Deno.writeTextFile(
    config,
    `server:
  listen: 127.0.0.1:0
  write_token: ${TOKEN}
log:
  stderr: always
  flush_interval: 50ms
otlp_receiver:
  grpc: true
  grpc_listen: 127.0.0.1:0
  http_listen: 127.0.0.1:0
${extra}probes: []
`,
  );
  let agent: AgentProcess;
  try {
    agent = await spawnAgent({ config });
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  const line = await agent.waitForLine((l) => l.msg === "otlp receiver listening");
  const port = (addr: unknown) => Number(String(addr).split(":").pop());
  return {
    agent,
    dir,
    grpcPort: port(line.grpc),
    httpPort: port(line.http),
    otlpFetch: (path, init) => fetch(`http://127.0.0.1:${port(line.http)}${path}`, init),
    async stop() {
      agent.kill("SIGTERM");
      const { code } = await agent.exit();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return code;
    },
  };
}

/** What a raw gRPC call came back with. */
export interface GrpcAnswer {
  code: number;
  details: string;
  /** The response message (on OK). */
  value?: Uint8Array;
}

/** Options of {@linkcode grpcCall}. */
export interface GrpcCallOptions {
  metadata?: Record<string, string>;
  /** Compress the message with gzip. */
  gzip?: boolean;
}

/**
 * One unary call with raw bytes to `path` on `port`. A call that found no
 * connection at all (UNAVAILABLE, "No connection established": nothing was
 * sent) is made again, as an OTLP exporter retries UNAVAILABLE, for up to
 * 30 s: the agent's gRPC listener runs in a process that Deno 2.9.6's HTTP/2
 * bug (denoland/deno#36788) may abort when a client closes its connection,
 * and the agent starts it again within a second or two.
 */
export async function grpcCall(
  port: number,
  path: string,
  message: Uint8Array,
  options: GrpcCallOptions = {},
  host = "127.0.0.1",
): Promise<GrpcAnswer> {
  for (let attempt = 1;; attempt++) {
    const answer = await grpcCallOnce(port, path, message, options, host);
    if (
      answer.code !== grpc.status.UNAVAILABLE ||
      !/No connection established/.test(answer.details) ||
      attempt >= 20
    ) return answer;
    // Past grpc-js's reconnect backoff (1 s, +20% jitter), so its timer ends within the caller's test.
    await new Promise((r) => setTimeout(r, 1500));
  }
}

async function grpcCallOnce(
  port: number,
  path: string,
  message: Uint8Array,
  options: GrpcCallOptions,
  host: string,
): Promise<GrpcAnswer> {
  const channelOptions: grpc.ChannelOptions = {
    "grpc.max_send_message_length": -1,
    // Its own connections, shut with the client: grpc-js's shared pool keeps them, and their
    // reconnect timers, past the test that made them.
    "grpc.use_local_subchannel_pool": 1,
  };
  if (options.gzip) channelOptions["grpc.default_compression_algorithm"] = 2;
  const client = new grpc.Client(
    `${host.includes(":") ? `[${host}]` : host}:${port}`,
    grpc.credentials.createInsecure(),
    channelOptions,
  );
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
  try {
    return await new Promise<GrpcAnswer>((resolve) => {
      client.makeUnaryRequest(
        path,
        (b: Uint8Array) => Buffer.from(b),
        (b: Uint8Array) => new Uint8Array(b),
        message,
        md,
        { deadline: Date.now() + 10_000 },
        (err, value) =>
          resolve(
            err
              ? { code: err.code ?? -1, details: err.details ?? err.message }
              : { code: 0, details: "", value },
          ),
      );
    });
  } finally {
    client.close();
  }
}

/** The OTLP gRPC method paths. */
export const PATHS = {
  traces: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
  metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
  logs: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
} as const;

/** An exporter of the SDK: the one method used here. */
interface Exporter<T> {
  export(items: T, done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/** Export `items` once with `exporter` and shut it down; resolves to the export's result. */
export async function exportOnce<T>(
  exporter: Exporter<T>,
  items: T,
): Promise<{ code: number; error?: Error }> {
  try {
    return await new Promise((resolve) => exporter.export(items, resolve));
  } finally {
    await exporter.shutdown();
  }
}

/** A value from the agent's `/metrics` (0 when the series is absent). */
export async function metricValue(agent: AgentProcess, series: string): Promise<number> {
  const text = await (await agent.fetch("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
