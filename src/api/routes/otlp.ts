/**
 * OTLP/HTTP (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`; protobuf or
 * JSON, optionally gzip), mounted on the API port and on the OTLP/HTTP port
 * (`otlp_receiver.http_listen`) alike: a thin handler over the
 * {@linkcode OtlpIntake}. A success is 200 with the signal's export
 * response (partial success naming the refused items), in the encoding of
 * the request. A refusal is an `HTTPException` (400 unreadable, 413 too
 * large, 415 wrong type, 503 with `Retry-After` while the store cannot take
 * data, 507 on the API port for a full disk) that the app renders: the API
 * as its JSON error, the OTLP port as a `google.rpc.Status`.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../env.ts";
import { bad, bodyBytes, bodyText, jsonError } from "../body.ts";
import type { OtlpIntake, RequestResult, Transport } from "../../otlp/intake.ts";
import { CODECS, type Decoded, type Signal, SIGNALS } from "../../otlp/signals.ts";
import { OtlpError } from "../../otlp/values.ts";
import { StoreFullError, StoreUnavailableError } from "../../store/store.ts";

/** What the OTLP routes need. */
export interface OtlpRoutesDeps {
  intake: OtlpIntake;
  /** Counted as: `http` (the OTLP port) or `api` (the API port). */
  transport: Exclude<Transport, "grpc">;
  /** Largest body, as sent and after gzip decoding, in bytes (read per request). */
  maxBody: () => number;
  /** The setting `maxBody` comes from, named in a 413 (`server.max_body`). */
  maxBodyName: string;
  /** The signals to serve (default all three). */
  signals?: readonly Signal[];
  /** The status for a full store disk: 507 on the API, 503 (retryable for OTLP clients) elsewhere. */
  fullStatus?: 503 | 507;
}

/** The media type of an OTLP/HTTP request, or `undefined` for another. */
export function otlpEncoding(contentType: string | undefined): "protobuf" | "json" | undefined {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/x-protobuf" || type === "application/protobuf") return "protobuf";
  if (type === "application/json") return "json";
  return undefined;
}

const RESULT_OF: Record<number, RequestResult> = {
  400: "invalid",
  413: "too_large",
  415: "unsupported",
};

/** The OTLP/HTTP routes. */
export function otlpRoutes(deps: OtlpRoutesDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  for (const signal of deps.signals ?? SIGNALS) {
    app.post(`/v1/${signal}`, async (c) => {
      const encoding = otlpEncoding(c.req.header("content-type"));
      let decoded: Decoded;
      let bytes: Uint8Array;
      let json: unknown;
      try {
        ({ decoded, bytes, json } = await decode(c.req.raw, signal, encoding, deps));
      } catch (err) {
        if (err instanceof HTTPException) {
          deps.intake.refuse(signal, deps.transport, RESULT_OF[err.status] ?? "error");
        }
        throw err;
      }
      const codec = CODECS[signal];
      // JSON is encoded for forwarding only when forwarding is on; a shape our
      // decoder tolerates but protobuf cannot express is stored, not forwarded.
      const request = encoding === "protobuf" ? bytes : () => {
        try {
          return codec.jsonToProtobuf(json);
        } catch {
          return undefined;
        }
      };
      const { rejected, error } = await deps.intake.take(decoded, deps.transport, request).catch((
        err,
      ) => unavailable(err, deps.fullStatus ?? 507));
      if (encoding === "protobuf") {
        return c.body(codec.protobufAnswer(rejected, error), 200, {
          "Content-Type": "application/x-protobuf",
        });
      }
      return c.json(codec.jsonAnswer(rejected, error), 200);
    });
  }
  return app;
}

async function decode(
  req: Request,
  signal: Signal,
  encoding: "protobuf" | "json" | undefined,
  deps: OtlpRoutesDeps,
): Promise<{ decoded: Decoded; bytes: Uint8Array; json?: unknown }> {
  if (!encoding) {
    const type = (req.headers.get("content-type") ?? "").split(";")[0].trim();
    throw new HTTPException(415, {
      message: `Content-Type ${
        JSON.stringify(type.slice(0, 80))
      }: OTLP/HTTP takes application/x-protobuf or application/json`,
    });
  }
  const bytes = await bodyBytes(req, deps.maxBody(), deps.maxBodyName);
  const codec = CODECS[signal];
  const now = deps.intake.now();
  try {
    if (encoding === "protobuf") return { decoded: codec.decodeProtobuf(bytes, now), bytes };
    let value: unknown;
    try {
      value = JSON.parse(bodyText(bytes));
    } catch (err) {
      if (err instanceof HTTPException) throw err;
      throw bad(`body: invalid JSON (${jsonError(err)})`);
    }
    return { decoded: codec.decodeJson(value, now), bytes, json: value };
  } catch (err) {
    if (err instanceof OtlpError) throw bad(err.message);
    throw err;
  }
}

/** Store errors as HTTP answers: 503 while it cannot take data, `fullStatus` while its disk is full. */
function unavailable(err: unknown, fullStatus: 503 | 507): never {
  if (err instanceof StoreUnavailableError) {
    throw new HTTPException(503, {
      message: `the trace store is not available: ${err.message}`,
      res: new Response(null, { headers: { "Retry-After": "5" } }),
    });
  }
  if (err instanceof StoreFullError) {
    throw new HTTPException(fullStatus, {
      message: err.message,
      res: new Response(null, { headers: { "Retry-After": "30" } }),
    });
  }
  throw err;
}
