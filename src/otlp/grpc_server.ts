/**
 * OTLP/gRPC: the three collector services (`TraceService`,
 * `MetricsService`, `LogsService`, method `Export`, unary) on
 * `@grpc/grpc-js`'s insecure HTTP/2 server, as a thin handler over
 * {@linkcode GrpcExports} (the agent's {@linkcode localExports}, or the
 * bridge to them from the listener's own process). gzip-compressed messages are inflated by grpc-js,
 * which holds the inflated size to `max_message` too. Answers:
 *
 * | status               | when                                                      |
 * | -------------------- | --------------------------------------------------------- |
 * | OK                   | taken; partial success names refused items                |
 * | UNAUTHENTICATED      | not loopback, not in `allow_from`, no or a wrong token    |
 * | INVALID_ARGUMENT     | not a readable export request                             |
 * | RESOURCE_EXHAUSTED   | over `otlp_receiver.max_message` (grpc-js)                |
 * | UNAVAILABLE          | the store cannot take data now (the client retries)      |
 * | UNIMPLEMENTED        | another service or method (grpc-js)                       |
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import type { HostPort } from "../config/reader.ts";
import { formatHostPort } from "../config/reader.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import type { OtlpIntake } from "./intake.ts";
import type { AccessDecision } from "./access.ts";
import { CODECS, type Decoded, type Signal, SIGNALS } from "./signals.ts";
import { OtlpError } from "./values.ts";
import { GrpcStatus } from "./rpc_status.ts";
import { StoreFullError, StoreUnavailableError } from "../store/store.ts";

/** Who sent a call: the client's address and its `authorization` metadata. */
export interface CallOrigin {
  address?: string;
  authorization?: string;
}

/** What one Export call gets: the answer (OK), or a status and why. */
export type ExportOutcome = { code: 0; answer: Uint8Array } | { code: number; message: string };

/**
 * What the server does with the calls it takes: decide and take each
 * message ({@linkcode localExports} in the agent; in the listener's own
 * process, the bridge to the agent's), and count the calls refused before.
 */
export interface GrpcExports {
  handle(signal: Signal, message: Uint8Array, origin: CallOrigin): Promise<ExportOutcome>;
  refuse(signal: Signal, result: "too_large" | "invalid"): void;
}

/** Decides who may export. */
export interface AccessCheck {
  check(address: string | undefined, authorization: string | undefined): AccessDecision;
}

/**
 * Exports taken in this process: the access rule first, then decoding, then
 * the intake (counted as transport `grpc`).
 */
export function localExports(
  o: { intake: OtlpIntake; access: AccessCheck; logger: Logger },
): GrpcExports {
  return {
    async handle(signal, message, origin) {
      const decision = o.access.check(origin.address, origin.authorization);
      if (!decision.ok) {
        o.intake.refuse(signal, "grpc", "unauthenticated");
        return { code: GrpcStatus.UNAUTHENTICATED, message: decision.message };
      }
      const codec = CODECS[signal];
      let decoded: Decoded;
      try {
        decoded = codec.decodeProtobuf(message, o.intake.now());
      } catch (err) {
        if (!(err instanceof OtlpError)) throw err;
        o.intake.refuse(signal, "grpc", "invalid");
        return { code: GrpcStatus.INVALID_ARGUMENT, message: err.message };
      }
      try {
        const { rejected, error } = await o.intake.take(decoded, "grpc", message);
        return { code: 0, answer: codec.protobufAnswer(rejected, error) };
      } catch (err) {
        if (err instanceof StoreUnavailableError || err instanceof StoreFullError) {
          return { code: GrpcStatus.UNAVAILABLE, message: err.message };
        }
        o.logger.error("otlp export failed", { signal, err: errorMessage(err) });
        return { code: GrpcStatus.INTERNAL, message: "internal error" };
      }
    },
    refuse: (signal, result) => o.intake.refuse(signal, "grpc", result),
  };
}

/** Options for {@linkcode serveGrpc}. */
export interface GrpcReceiverOptions {
  listen: HostPort;
  /** Largest message, as sent and inflated, in bytes. */
  maxMessage: number;
  exports: GrpcExports;
}

/** A running OTLP/gRPC server. */
export interface GrpcReceiver {
  readonly addr: HostPort;
  /** Stop taking calls; wait up to `graceMs` for those in flight, then cut them. */
  shutdown(graceMs: number): Promise<void>;
}

/** How far past `max_message` grpc-js takes a message whole before refusing it itself. */
const HARD_LIMIT_FACTOR = 4;

/** Most concurrent calls on one connection. */
const MAX_STREAMS = 100;

const BY_PATH = new Map<string, Signal>(SIGNALS.map((s) => [CODECS[s].grpcPath, s]));

/** The client's address from grpc-js's `getPeer()` (`10.0.0.7:51234`, `::1:51234`). */
export function peerAddress(peer: string): string | undefined {
  const m = /^(.*):\d+$/.exec(peer);
  const host = (m ? m[1] : peer).replace(/^\[(.*)\]$/, "$1");
  return host && host !== "unknown" ? host : undefined;
}

const bytes = (b: Uint8Array) => b;

/** A service definition with raw bytes in and out: the handler decodes and encodes itself. */
function definition(signal: Signal): grpc.ServiceDefinition {
  return {
    Export: {
      path: CODECS[signal].grpcPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Uint8Array) => Buffer.from(b),
      requestDeserialize: bytes,
      responseSerialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      responseDeserialize: bytes,
    },
  } as unknown as grpc.ServiceDefinition;
}

type Callback = (err: grpc.ServerErrorResponse | null, value?: Uint8Array) => void;

function handler(signal: Signal, options: GrpcReceiverOptions) {
  const { exports } = options;
  const fail = (callback: Callback, code: number, details: string) =>
    callback({ name: "OtlpError", message: details, code, details } as grpc.ServerErrorResponse);
  return (call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, callback: Callback) => {
    if (call.request.length > options.maxMessage) {
      // Counted by the interceptor, as grpc-js's own refusals are.
      return fail(
        callback,
        GrpcStatus.RESOURCE_EXHAUSTED,
        `message of ${call.request.length} bytes over otlp_receiver.max_message (${options.maxMessage})`,
      );
    }
    const origin = {
      address: peerAddress(call.getPeer()),
      authorization: call.metadata.get("authorization")[0]?.toString(),
    };
    exports.handle(signal, call.request, origin).then(
      (out) => "answer" in out ? callback(null, out.answer) : fail(callback, out.code, out.message),
      (err) => fail(callback, GrpcStatus.INTERNAL, errorMessage(err)),
    );
  };
}

/**
 * Counts the refusals grpc-js answers itself, before a handler runs: a
 * message over the limit (RESOURCE_EXHAUSTED) and one that does not inflate
 * (INTERNAL). grpc-js sends those from its innermost call object, past any
 * interceptor's responder, so this interceptor (the only one, hence given
 * that object) watches that object's `sendStatus` instead.
 */
function counting(exports: GrpcExports): grpc.ServerInterceptor {
  // The type asks for a wrapper; the server needs only the call's interface.
  return (method, call) =>
    watch(exports, BY_PATH.get(method.path), call) as grpc.ServerInterceptingCall;
}

function watch(
  exports: GrpcExports,
  signal: Signal | undefined,
  call: grpc.ServerInterceptingCallInterface,
): grpc.ServerInterceptingCallInterface {
  if (!signal) return call;
  const send = call.sendStatus.bind(call);
  call.sendStatus = (status) => {
    if (status.code === GrpcStatus.RESOURCE_EXHAUSTED) {
      exports.refuse(signal, "too_large");
    } else if (status.code === GrpcStatus.INTERNAL && /decompress/i.test(status.details ?? "")) {
      exports.refuse(signal, "invalid");
    }
    send(status);
  };
  return call;
}

/**
 * Serve OTLP/gRPC on `options.listen`.
 *
 * @throws {Error} (rejects) when the address cannot be bound; `code` is
 *   `EADDRINUSE` when another process (a collector) holds it.
 */
export async function serveGrpc(options: GrpcReceiverOptions): Promise<GrpcReceiver> {
  const server = new grpc.Server({
    // grpc-js refuses only past a hard limit; up to it the message is taken
    // whole and refused by the handler. A refusal mid-upload (grpc-js's own)
    // followed by new connections can abort Deno 2.9.6's node:http2
    // (denoland/deno#36788): this keeps ordinary oversized exports off that path.
    "grpc.max_receive_message_length": options.maxMessage * HARD_LIMIT_FACTOR,
    "grpc.max_concurrent_streams": MAX_STREAMS,
    interceptors: [counting(options.exports)],
  });
  for (const signal of SIGNALS) {
    server.addService(definition(signal), { Export: handler(signal, options) });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      formatHostPort(options.listen),
      grpc.ServerCredentials.createInsecure(),
      (err, port) => {
        if (!err) return resolve(port);
        const inUse = /EADDRINUSE|address already in use/i.test(err.message);
        reject(Object.assign(new Error(inUse ? "address already in use" : err.message), {
          code: inUse ? "EADDRINUSE" : undefined,
        }));
      },
    )
  );
  return {
    addr: { host: options.listen.host, port },
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
