/**
 * The HTTP API (SPEC §6) as a Hono app. Every error, thrown anywhere, becomes
 * one JSON answer `{ "error": { "code", "message" } }` in `onError`.
 *
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorMessage } from "../errors.ts";
import type { ApiEnv, ApiErrorBody } from "./env.ts";
import type { ApiDeps } from "./deps.ts";
import { access } from "./middleware/access.ts";
import { healthRoutes, type Readiness } from "./routes/health.ts";
import { statusRoutes } from "./routes/status.ts";
import { probeRoutes } from "./routes/probes.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { traceRoutes } from "./routes/traces.ts";
import { otlpRoutes } from "./routes/otlp.ts";
import { grpcElsewhere } from "./middleware/grpc.ts";
import { OtlpIntake } from "../otlp/intake.ts";
import { serviceRoutes } from "./routes/services.ts";
import { StoreFullError, StoreUnavailableError } from "../store/store.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { accessRoutes } from "./routes/access.ts";
import { backupRoutes } from "./routes/backups.ts";
import { isConsolePath } from "../console/paths.ts";

export type { Readiness };
export type { ApiDeps };

const CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  503: "unavailable",
  507: "insufficient_storage",
};

/** Build a JSON error response. */
export function errorResponse(status: number, message: string, headers?: Headers): Response {
  const body: ApiErrorBody = { error: { code: CODES[status] ?? "error", message } };
  const h = new Headers(headers);
  h.set("Content-Type", "application/json");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** Build the API app. */
export function createApp(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.use(grpcElsewhere(deps.grpcHint ?? (() => "this port does not serve gRPC")));
  app.use(access({
    tokens: () => ({ read: deps.server().read_token, write: deps.server().write_token }),
    open: ["/healthz", "/readyz"],
    own: isConsolePath,
  }));
  // One limiter per `server.max_body` in force (a reload may change it), not one per request.
  let limiter: { limit: number; check: MiddlewareHandler<ApiEnv> } | undefined;
  app.use(async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return await next();
    const limit = deps.server().max_body;
    if (limiter?.limit !== limit) {
      limiter = {
        limit,
        check: bodyLimit({
          maxSize: limit,
          onError: () => {
            throw new HTTPException(413, { message: `request body over ${limit} bytes` });
          },
        }),
      };
    }
    return await limiter.check(c, next);
  });
  app.route("/", healthRoutes(deps));
  app.route("/", statusRoutes(deps));
  app.route("/", probeRoutes(deps));
  app.route("/", metricsRoutes(deps));
  const intake = deps.otlpIntake ?? new OtlpIntake({ store: deps.store });
  if (deps.store) {
    app.route(
      "/",
      traceRoutes({ store: deps.store, maxDecodedBody: () => deps.server().max_body, intake }),
    );
  }
  app.route(
    "/",
    otlpRoutes({
      intake,
      transport: "api",
      maxBody: () => deps.server().max_body,
      maxBodyName: "server.max_body",
      signals: ["metrics", "logs"],
    }),
  );

  if (deps.metrics) app.route("/", serviceRoutes({ metrics: deps.metrics }));
  app.route(
    "/",
    alertRoutes({ alerts: deps.alerts ?? (() => undefined), configured: deps.alertsConfigured }),
  );
  if (deps.store) {
    app.route(
      "/",
      accessRoutes({
        access: deps.access ?? (() => undefined),
        configured: deps.accessConfigured,
        store: deps.store,
      }),
    );
  }
  app.route("/", backupRoutes({ backups: deps.backups ?? (() => undefined) }));
  // The console (GET / and its pages), loaded on its first request.
  let consoleApp: Promise<Hono<ApiEnv>> | undefined;
  app.all("*", async (c, next) => {
    // A browser asking for a page that does not exist gets the console's 404 page.
    const page = isConsolePath(c.req.path) ||
      (c.req.method === "GET" && /text\/html/.test(c.req.header("Accept") ?? "") &&
        !c.req.path.startsWith("/api/"));
    if (!page) return await next();
    consoleApp ??= import("../console/routes.tsx").then((m) => m.consoleRoutes(deps)).catch(
      (err) => {
        consoleApp = undefined; // tried again on the next request
        throw err;
      },
    );
    return (await consoleApp).fetch(c.req.raw, c.env);
  });
  app.notFound((c) => errorResponse(404, `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      return errorResponse(err.status as ContentfulStatusCode, err.message, err.res?.headers);
    }
    if (err instanceof StoreUnavailableError) {
      return errorResponse(503, err.message, new Headers({ "Retry-After": "5" }));
    }
    if (err instanceof StoreFullError) {
      return errorResponse(507, err.message, new Headers({ "Retry-After": "30" }));
    }
    deps.logger.error("request failed", { path: c.req.path, err: errorMessage(err) });
    return errorResponse(500, "internal error");
  });
  return app;
}
