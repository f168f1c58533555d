/**
 * Forwarding: everything the receiver accepts is teed to an existing
 * collector (`otlp_receiver.forward`), so an operator's pipeline keeps
 * working with astron-watch in front of it. Received data never waits on
 * the upstream: each request's protobuf bytes (JSON requests encoded to
 * protobuf first) go to a bounded disk queue
 * (the same fsynced spool the store uses while its database is away) and a
 * sender drains it in order, with retries and backoff (1 s doubling to 60 s)
 * while the upstream is down. Past the bound new requests are dropped and
 * counted; a request the upstream refuses (a 4xx, or a gRPC status that no
 * retry can fix) is dropped and counted too.
 *
 * The upstream is `host:port` (OTLP/gRPC, insecure, as the platform
 * configures its collector) or an `http(s)://` base URL (OTLP/HTTP protobuf,
 * `/v1/<signal>` appended).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Logger } from "../log/logger.ts";
import type { Component } from "../component.ts";
import { Spool } from "../store/spool.ts";
import { errorMessage } from "../errors.ts";

/** What OTLP carries. */
export type Signal = "traces" | "metrics" | "logs";

/** Options for {@linkcode Forwarder}. */
export interface ForwarderOptions {
  /** `host:port` (gRPC) or an `http(s)://` base URL. */
  upstream: string;
  /** Headers (HTTP) or metadata (gRPC) on every request. */
  headers?: Record<string, string>;
  /** The queue's directory. */
  dir: string;
  /** Most bytes queued on disk (default 64 MiB). */
  maxBytes?: number;
  logger: Logger;
  /** Per-request deadline, ms (default 10 s). */
  timeout?: number;
  /** The first retry's delay and the cap, ms (default 1 s and 60 s). */
  backoff?: { first: number; max: number };
}

/** The forwarder's counters. */
export interface ForwarderStats {
  queued: number;
  queued_bytes: number;
  sent: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** Dropped because the upstream refused them for good. */
  refused: number;
  /** Failed attempts (each retried). */
  failures: number;
}

interface QueuedRequest {
  signal: Signal;
  /** The protobuf request, base64. */
  body: string;
}

/** The outcome of one attempt, with the upstream's answer when it was not a success. */
interface Sent {
  result: "ok" | "retry" | "refused";
  error?: string;
}

const GRPC_PATHS: Record<Signal, string> = {
  traces: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
  metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
  logs: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};
/** gRPC statuses worth retrying (the OTLP spec's list). */
const GRPC_RETRYABLE = new Set([1, 4, 8, 10, 11, 14, 15]);

/** Tees accepted OTLP requests to an upstream collector (see the module doc). */
export class Forwarder implements Component {
  readonly name = "otlp_forward";
  readonly #o: ForwarderOptions;
  readonly #queue: Spool<QueuedRequest>;
  #stats = { sent: 0, dropped: 0, refused: 0, failures: 0 };
  #stopped = true;
  #wake?: () => void;
  #loop?: Promise<void>;
  #appends: Promise<void> = Promise.resolve();
  /** Bytes handed to the queue and not yet on disk. */
  #appending = 0;
  #send?: (signal: Signal, body: Uint8Array) => Promise<Sent>;
  #close?: () => void;
  #lastError?: string;

  constructor(options: ForwarderOptions) {
    this.#o = options;
    this.#queue = new Spool(options.dir);
  }

  /** Open the queue (what a previous run left is sent first) and start sending. */
  async start(): Promise<void> {
    await this.#queue.open();
    const { send, close } = /^https?:\/\//.test(this.#o.upstream)
      ? httpSender(this.#o)
      : await grpcSender(this.#o);
    this.#send = send;
    this.#close = close;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stop sending; what is queued stays on disk for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#appends;
    await this.#loop;
    await this.#queue.close();
    this.#close?.();
  }

  /** `undefined` when the upstream takes what it is sent. */
  readiness(): string | undefined {
    if (this.#stopped) return "not started";
    return undefined; // a slow upstream never makes the agent unready: it is counted, not waited for
  }

  /** The counters. */
  stats(): ForwarderStats & { last_error?: string } {
    return {
      queued: this.#queue.pending,
      queued_bytes: this.#queue.pendingBytes,
      ...this.#stats,
      last_error: this.#lastError,
    };
  }

  /**
   * Queue one accepted request's protobuf bytes. Never waits on the
   * upstream and never throws: past the bound it is dropped and counted.
   */
  enqueue(signal: Signal, body: Uint8Array): void {
    if (this.#stopped) return;
    const max = this.#o.maxBytes ?? 64 * 1024 * 1024;
    const line = { signal, body: Buffer.from(body).toString("base64") };
    // What the line will take on disk: the spool's JSON around the base64 body.
    const bytes = line.body.length + 64;
    if (this.#queue.pendingBytes + this.#appending + bytes > max) {
      this.#stats.dropped++;
      return;
    }
    this.#appending += bytes;
    this.#appends = this.#appends.then(() => this.#queue.append(line, 1)).then(
      () => this.#wake?.(),
      (err) => {
        this.#stats.dropped++;
        this.#lastError = errorMessage(err);
      },
    ).finally(() => this.#appending -= bytes);
  }

  /** Wait until everything queued so far was handed to the queue (tests). */
  async settled(): Promise<void> {
    await this.#appends;
  }

  async #run(): Promise<void> {
    const { first, max } = this.#o.backoff ?? { first: 1_000, max: 60_000 };
    let delay = first;
    while (!this.#stopped) {
      const batch = await this.#queue.read(1);
      if (!batch.entries.length) {
        await this.#sleep(Infinity);
        continue;
      }
      const { signal, body } = batch.entries[0];
      const { result: outcome, error } = await this.#send!(signal, Buffer.from(body, "base64"));
      if (error) this.#lastError = error;
      if (outcome === "retry") {
        this.#stats.failures++;
        await this.#sleep(delay);
        delay = Math.min(max, delay * 2);
        continue;
      }
      delay = first;
      if (outcome === "ok") this.#stats.sent++;
      else this.#stats.refused++;
      await this.#queue.advance(batch);
    }
  }

  /** Sleep `ms` (or until woken by an enqueue or stop). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}

/** OTLP/HTTP protobuf: POST `<base>/v1/<signal>`; 429, 502-504 and network errors are retried. */
function httpSender(o: ForwarderOptions): {
  send: (signal: Signal, body: Uint8Array) => Promise<Sent>;
  close: () => void;
} {
  const base = o.upstream.replace(/\/+$/, "");
  return {
    async send(signal, body) {
      try {
        const res = await fetch(`${base}/v1/${signal}`, {
          method: "POST",
          headers: { ...o.headers, "Content-Type": "application/x-protobuf" },
          body: body as Uint8Array<ArrayBuffer>,
          signal: AbortSignal.timeout(o.timeout ?? 10_000),
        });
        await res.body?.cancel();
        if (res.ok) return { result: "ok" };
        const error = `HTTP ${res.status}`;
        return { result: [429, 502, 503, 504].includes(res.status) ? "retry" : "refused", error };
      } catch (err) {
        return { result: "retry", error: errorMessage(err) };
      }
    },
    close() {},
  };
}

/** OTLP/gRPC, insecure (h2c), bytes passed through unparsed. */
async function grpcSender(o: ForwarderOptions): Promise<{
  send: (signal: Signal, body: Uint8Array) => Promise<Sent>;
  close: () => void;
}> {
  const grpc = await import("@grpc/grpc-js");
  // Reconnect soon after the upstream comes back (grpc-js backs off to two minutes by default).
  const client = new grpc.Client(o.upstream, grpc.credentials.createInsecure(), {
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": Math.min(o.backoff?.max ?? 60_000, 10_000),
    // Its own subchannels, closed with it (the global pool outlives the client).
    "grpc.use_local_subchannel_pool": 1,
  });
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.headers ?? {})) metadata.set(k.toLowerCase(), v);
  return {
    send(signal, body) {
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          GRPC_PATHS[signal],
          (b: Uint8Array) => Buffer.from(b),
          (b: Buffer) => b,
          body,
          metadata,
          { deadline: Date.now() + (o.timeout ?? 10_000) },
          (err: { code?: number; details?: string } | null) => {
            if (!err) return resolve({ result: "ok" });
            const retry = GRPC_RETRYABLE.has(err.code ?? 14);
            resolve({
              result: retry ? "retry" : "refused",
              error: `gRPC ${err.code}: ${err.details}`,
            });
          },
        );
      });
    },
    close: () => client.close(),
  };
}
