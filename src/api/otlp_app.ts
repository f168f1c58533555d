/**
 * The app on the OTLP/HTTP port (`otlp_receiver.http_listen`, 4318): the
 * OTLP routes of `routes/otlp.ts` behind the receiver's access rule, with
 * the OTLP/HTTP spec's answers: every failure is a `google.rpc.Status`
 * (protobuf for a protobuf request, else JSON) with 400, 401, 404, 405,
 * 413, 415 or 503 and `Retry-After`; a gRPC call that lands here gets
 * UNIMPLEMENTED naming the gRPC port.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "./env.ts";
import { otlpEncoding, otlpRoutes } from "./routes/otlp.ts";
import { grpcElsewhere } from "./middleware/grpc.ts";
import type { OtlpIntake } from "../otlp/intake.ts";
import type { OtlpAccess } from "../otlp/access.ts";
import { type Signal, SIGNALS } from "../otlp/signals.ts";
import { encodeStatus, grpcCodeOf, statusJson } from "../otlp/rpc_status.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";

/** What the OTLP/HTTP app needs. */
export interface OtlpAppDeps {
  intake: OtlpIntake;
  access: OtlpAccess;
  /** Largest body, as sent and decoded (`otlp_receiver.max_message`). */
  maxMessage: () => number;
  /** The message for a gRPC call sent here. */
  grpcHint: () => string;
  logger: Logger;
}

/**
 * An OTLP/HTTP error answer: a `google.rpc.Status` in the request's encoding.
 *
 * @param contentType the request's `Content-Type` (protobuf gets protobuf, anything else JSON).
 */
export function otlpErrorResponse(
  status: number,
  message: string,
  contentType: string | undefined,
  headers?: Headers,
): Response {
  const h = new Headers(headers);
  const code = grpcCodeOf(status);
  if (otlpEncoding(contentType) === "protobuf") {
    h.set("Content-Type", "application/x-protobuf");
    return new Response(encodeStatus(code, message), { status, headers: h });
  }
  h.set("Content-Type", "application/json");
  return new Response(JSON.stringify(statusJson(code, message)), { status, headers: h });
}

const PATHS = new Map<string, Signal>(SIGNALS.map((s) => [`/v1/${s}`, s]));

/** Build the OTLP/HTTP app. */
export function createOtlpApp(deps: OtlpAppDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.use(grpcElsewhere(deps.grpcHint));
  app.use(async (c, next) => {
    const signal = PATHS.get(c.req.path);
    if (!signal) return await next();
    if (c.req.method !== "POST") {
      throw new HTTPException(405, {
        message: `${c.req.path} takes POST`,
        res: new Response(null, { headers: { Allow: "POST" } }),
      });
    }
    const remote = c.env?.remoteAddr;
    const address = remote?.transport === "tcp" ? remote.hostname : undefined;
    const decision = deps.access.check(address, c.req.header("authorization"));
    if (!decision.ok) {
      deps.intake.refuse(signal, "http", "unauthenticated");
      throw new HTTPException(401, {
        message: decision.message,
        res: new Response(null, { headers: { "WWW-Authenticate": 'Bearer realm="astron-watch"' } }),
      });
    }
    return await next();
  });
  app.route(
    "/",
    otlpRoutes({
      intake: deps.intake,
      transport: "http",
      maxBody: deps.maxMessage,
      maxBodyName: "otlp_receiver.max_message",
      fullStatus: 503,
    }),
  );
  app.notFound((c) =>
    otlpErrorResponse(
      404,
      `no route for ${c.req.method} ${c.req.path} (OTLP/HTTP: POST /v1/traces, /v1/metrics, /v1/logs)`,
      c.req.header("content-type"),
    )
  );
  app.onError((err, c) => {
    const type = c.req.header("content-type");
    if (err instanceof HTTPException) {
      return otlpErrorResponse(err.status, err.message, type, err.res?.headers);
    }
    deps.logger.error("otlp request failed", { path: c.req.path, err: errorMessage(err) });
    return otlpErrorResponse(500, "internal error", type);
  });
  return app;
}
