/**
 * A gRPC call that reaches an HTTP server which does not serve gRPC (the
 * API port, when a client was pointed at `:9477` instead of the OTLP port)
 * gets a gRPC answer, not a JSON page its client cannot read: a
 * Trailers-Only response, `grpc-status: 12` (UNIMPLEMENTED) and a
 * `grpc-message` saying where to send it. (Hyper, under `Deno.serveHttp`,
 * takes HTTP/2 with prior knowledge, which is how gRPC clients connect in
 * the clear.)
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "../env.ts";
import { grpcMessage, GrpcStatus } from "../../otlp/rpc_status.ts";

/** A Trailers-Only gRPC answer: the status in the response headers, no body. */
export function grpcStatusResponse(code: number, message: string): Response {
  return new Response(null, {
    status: 200,
    headers: {
      "content-type": "application/grpc",
      "grpc-status": String(code),
      "grpc-message": grpcMessage(message),
    },
  });
}

/** True for a gRPC request (`content-type: application/grpc`, `application/grpc+proto` ...). */
export function isGrpc(contentType: string | undefined): boolean {
  return /^application\/grpc(\+[a-z0-9.-]+)?\s*(;|$)/i.test(contentType ?? "");
}

/**
 * The middleware: gRPC requests are answered UNIMPLEMENTED with `message()`
 * (read per request: it names the OTLP port bound now); others pass.
 */
export function grpcElsewhere(message: () => string): MiddlewareHandler<ApiEnv> {
  return async function grpcNotHere(c, next) {
    if (!isGrpc(c.req.header("content-type"))) return await next();
    return grpcStatusResponse(GrpcStatus.UNIMPLEMENTED, message());
  };
}
