/**
 * The OTLP collector messages: traces and metrics from the code the
 * OpenTelemetry JS project generated from the official `opentelemetry-proto`
 * files (shipped in `@opentelemetry/otlp-transformer` 0.215, the last
 * release that carried it), logs by protobufjs reflection over the same
 * definitions (`logs_proto.ts`): decoding a request to plain objects and
 * encoding an answer. Metric requests in protobuf, the busiest input, are
 * read by `metrics_wire.ts` straight to the receiver's normal form (tested
 * to answer as these objects do).
 *
 * @module
 */

import otlpRoot from "@opentelemetry/otlp-transformer/generated/root";
import { OtlpError, TO_OBJECT } from "./values.ts";
import { ExportLogsServiceRequest, ExportLogsServiceResponse } from "./logs_proto.ts";

/** What the generated code offers for one message type. */
export interface ProtoType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  fromObject(value: unknown): unknown;
}

/** One signal's request and response types. */
export interface ServiceTypes {
  request: ProtoType;
  response: ProtoType;
  /** The request's name, for messages: `ExportTraceServiceRequest`. */
  requestName: string;
}

// deno-lint-ignore no-explicit-any
const collector = (otlpRoot as any).opentelemetry.proto.collector;

/** The request and response types of the three OTLP collector services. */
export const SERVICES: Record<"traces" | "metrics" | "logs", ServiceTypes> = {
  traces: {
    request: collector.trace.v1.ExportTraceServiceRequest,
    response: collector.trace.v1.ExportTraceServiceResponse,
    requestName: "ExportTraceServiceRequest",
  },
  metrics: {
    request: collector.metrics.v1.ExportMetricsServiceRequest,
    response: collector.metrics.v1.ExportMetricsServiceResponse,
    requestName: "ExportMetricsServiceRequest",
  },
  logs: {
    request: ExportLogsServiceRequest,
    response: ExportLogsServiceResponse,
    requestName: "ExportLogsServiceRequest",
  },
};

/**
 * Decode a request in protobuf to a plain object (64-bit integers as decimal strings).
 *
 * @throws {OtlpError} when the bytes are not such a message.
 */
export function decodeRequest(types: ServiceTypes, bytes: Uint8Array): unknown {
  try {
    return types.request.toObject(types.request.decode(bytes), TO_OBJECT);
  } catch (err) {
    throw new OtlpError(`body: not an OTLP ${types.requestName} (${(err as Error).message})`);
  }
}

/** Encode an answer (`fromObject` form: camelCase fields) in protobuf. */
export function encodeResponse(types: ServiceTypes, value: unknown): Uint8Array<ArrayBuffer> {
  return new Uint8Array(types.response.encode(types.response.fromObject(value)).finish());
}

/**
 * Refuse a JSON body that is not an object (`null`, a list, a scalar) whole.
 *
 * @throws {OtlpError} naming what came.
 */
export function requestObject(types: ServiceTypes, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OtlpError(
      `body: expected an OTLP ${types.requestName} (a JSON object), got ${
        value === null ? "null" : Array.isArray(value) ? "a list" : typeof value
      }`,
    );
  }
  return value as Record<string, unknown>;
}

/** The fields OTLP/JSON writes as hex (bytes in protobuf), wherever they appear. */
const HEX_ID_FIELDS = new Set(["traceId", "spanId", "parentSpanId"]);

/**
 * An OTLP/JSON request in protobuf, for forwarding it to a collector: the
 * ids OTLP/JSON writes in hex become bytes; everything else maps by name
 * (64-bit integers as decimal strings keep their value).
 *
 * @example
 * ```ts
 * encodeJsonRequest(SERVICES.traces, { resourceSpans: [] }); // Uint8Array(0)
 * ```
 */
export function encodeJsonRequest(types: ServiceTypes, value: unknown): Uint8Array {
  return types.request.encode(types.request.fromObject(hexIdsToBytes(value))).finish();
}

function hexIdsToBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIdsToBytes);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = HEX_ID_FIELDS.has(key) && typeof v === "string" ? hexBytes(v) : hexIdsToBytes(v);
  }
  return out;
}

function hexBytes(hex: string): Uint8Array {
  if (hex.length % 2 || !/^[0-9a-f]*$/i.test(hex)) return new Uint8Array(0);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
