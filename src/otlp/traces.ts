/**
 * OTLP trace requests (`ExportTraceServiceRequest`), protobuf or JSON, to
 * spans in one normal form ({@linkcode SpanRecord}), and the answers back.
 * This is the wire format only: the store turns spans into its rows. Protobuf is
 * decoded by the code the OpenTelemetry JS project generated from the
 * official `opentelemetry-proto` files (shipped in
 * `@opentelemetry/otlp-transformer` 0.215, the last release that carried it),
 * never by a hand-written wire decoder; JSON follows the OTLP JSON mapping
 * (ids as hex, 64-bit integers as strings or numbers). Both land in one
 * normal form, so what is stored does not depend on how it was sent.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { expected, isObject, ShapeError } from "../wire_shape.ts";
import { Buffer } from "node:buffer";
import otlpRoot from "@opentelemetry/otlp-transformer/generated/root";

interface ProtoType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  fromObject(value: unknown): unknown;
}

// deno-lint-ignore no-explicit-any
const traceV1 = (otlpRoot as any).opentelemetry.proto.collector.trace.v1;
const Request: ProtoType = traceV1.ExportTraceServiceRequest;
const Response: ProtoType = traceV1.ExportTraceServiceResponse;

/** A span in normal form, as stored in `spans.record`. */
export interface SpanRecord {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  trace_state?: string;
  name: string;
  kind: number;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
  attributes: Record<string, unknown>;
  events: { name: string; time_unix_nano: string; attributes: Record<string, unknown> }[];
  links: { trace_id: string; span_id: string; attributes: Record<string, unknown> }[];
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
}

/** The outcome of decoding one request: the spans, and how many were refused with why. */
export interface DecodedSpans {
  spans: SpanRecord[];
  rejected: number;
  /** The first refusal, naming the span's path. */
  error?: string;
}

/** A request that cannot be read at all (the whole request is refused with 400). */
export class OtlpError extends Error {
  override name = "OtlpError";
}

/**
 * Decode an `ExportTraceServiceRequest` in protobuf.
 *
 * @throws {OtlpError} when the bytes are not such a message.
 */
export function decodeProtobuf(bytes: Uint8Array): DecodedSpans {
  let value: unknown;
  try {
    const msg = Request.decode(bytes);
    value = Request.toObject(msg, { longs: String, enums: Number, arrays: true, defaults: false });
  } catch (err) {
    throw new OtlpError(`body: not an OTLP ExportTraceServiceRequest (${(err as Error).message})`);
  }
  return toSpans(value);
}

/**
 * Read an `ExportTraceServiceRequest` in OTLP JSON (already parsed).
 *
 * @throws {OtlpError} when the body is not a JSON object (`null` included),
 *   naming the path of the first field of a wrong type, or naming a time past
 *   2^64-1 nanoseconds (no OTLP message can carry one).
 */
export function decodeJson(value: unknown): DecodedSpans {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OtlpError(
      `body: expected an OTLP ExportTraceServiceRequest (a JSON object), got ${
        value === null ? "null" : Array.isArray(value) ? "a list" : typeof value
      }`,
    );
  }
  return toSpans(value);
}

/** The success answer, as protobuf: an `ExportTraceServiceResponse` with partial success if any. */
export function encodeProtobufResponse(
  rejected: number,
  error?: string,
): Uint8Array<ArrayBuffer> {
  const body = rejected ? { partialSuccess: { rejectedSpans: rejected, errorMessage: error } } : {};
  return new Uint8Array(Response.encode(Response.fromObject(body)).finish());
}

/** The success answer, as OTLP JSON. */
export function jsonResponse(rejected: number, error?: string): Record<string, unknown> {
  return rejected
    ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: error ?? "" } }
    : {};
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObject(v) || v instanceof Uint8Array) expected(path, "an object", v);
  return v;
}

function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) expected(path, "a list", v);
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") expected(path, "a string", v);
  return v;
}

function int(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) expected(path, "an integer", v);
  return n;
}

/** The largest value of OTLP's `fixed64` times. */
const NANOS_MAX = 2n ** 64n - 1n;

/**
 * A 64-bit unsigned nanosecond count as a decimal string.
 *
 * @throws {OtlpError} for a count past 2^64-1: the request is not one any
 *   OTLP encoding can carry, so it is refused whole (protobuf cannot get here).
 */
function nanos(v: unknown, path: string): string {
  if (v === undefined || v === null) return "0";
  let n: bigint | undefined;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) n = BigInt(v);
  else if (typeof v === "string" && /^\d{1,20}$/.test(v)) n = BigInt(v);
  if (n === undefined) throw new ShapeError(`${path}: expected nanoseconds since the epoch`);
  if (n > NANOS_MAX) {
    const shown = typeof v === "string" ? JSON.stringify(v) : String(v);
    throw new OtlpError(`${path}: ${shown} is past 2^64-1 nanoseconds`);
  }
  return n.toString();
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** An id (trace or span) as lowercase hex: from bytes, hex text, or base64 text. */
function id(v: unknown, bytes: number, path: string, optional = false): string {
  if (v === undefined || v === null || v === "" || (v instanceof Uint8Array && !v.length)) {
    if (optional) return "";
    throw new ShapeError(`${path}: missing`);
  }
  let hex: string | undefined;
  if (v instanceof Uint8Array) hex = Array.from(v, (b) => HEX[b]).join("");
  else if (typeof v === "string" && /^[0-9a-fA-F]+$/.test(v) && v.length === bytes * 2) {
    hex = v.toLowerCase();
  } else if (typeof v === "string") {
    try {
      hex = Array.from(atob(v), (c) => HEX[c.charCodeAt(0)]).join("");
    } catch {
      hex = undefined;
    }
  }
  if (!hex || hex.length !== bytes * 2 || /^0+$/.test(hex)) {
    throw new ShapeError(`${path}: expected ${bytes} bytes as hex`);
  }
  return hex;
}

function anyValue(v: unknown, path: string, depth = 0): unknown {
  if (depth > 16) throw new ShapeError(`${path}: nested too deep`);
  const o = obj(v, path);
  if ("stringValue" in o) return str(o.stringValue, `${path}.stringValue`);
  if ("boolValue" in o) return o.boolValue === true;
  if ("intValue" in o) {
    const n = o.intValue;
    if (typeof n === "number" && Number.isInteger(n)) return n;
    if (typeof n === "string" && /^-?\d{1,20}$/.test(n)) {
      return Number.isSafeInteger(Number(n)) ? Number(n) : n;
    }
    throw new ShapeError(`${path}.intValue: expected an integer`);
  }
  if ("doubleValue" in o) {
    const d = typeof o.doubleValue === "string" ? Number(o.doubleValue) : o.doubleValue;
    if (typeof d !== "number") throw new ShapeError(`${path}.doubleValue: expected a number`);
    return Number.isFinite(d) ? d : String(d);
  }
  if ("arrayValue" in o) {
    const a = obj(o.arrayValue, `${path}.arrayValue`);
    return list(a.values, `${path}.arrayValue.values`)
      .map((x, i) => anyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1));
  }
  if ("kvlistValue" in o) {
    const kv = obj(o.kvlistValue, `${path}.kvlistValue`);
    return attributes(kv.values, `${path}.kvlistValue.values`, depth + 1);
  }
  if ("bytesValue" in o) {
    const b = o.bytesValue;
    if (b instanceof Uint8Array) {
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
    }
    return str(b, `${path}.bytesValue`);
  }
  return null;
}

function attributes(v: unknown, path: string, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  list(v, path).forEach((kv, i) => {
    const p = `${path}[${i}]`;
    const o = obj(kv, p);
    out[str(o.key, `${p}.key`)] = anyValue(o.value, `${p}.value`, depth);
  });
  return out;
}

function toSpans(value: unknown): DecodedSpans {
  const spans: SpanRecord[] = [];
  let rejected = 0;
  let error: string | undefined;
  let resourceSpans: unknown[];
  try {
    resourceSpans = list(obj(value, "body").resourceSpans, "resourceSpans");
  } catch (err) {
    throw new OtlpError((err as Error).message);
  }
  resourceSpans.forEach((rsValue, r) => {
    const rp = `resourceSpans[${r}]`;
    let resource: Record<string, unknown>;
    let scopeSpans: unknown[];
    try {
      const rs = obj(rsValue, rp);
      resource = attributes(
        obj(rs.resource, `${rp}.resource`).attributes,
        `${rp}.resource.attributes`,
      );
      scopeSpans = list(rs.scopeSpans, `${rp}.scopeSpans`);
    } catch (err) {
      throw new OtlpError((err as Error).message);
    }
    scopeSpans.forEach((ssValue, s) => {
      const sp = `${rp}.scopeSpans[${s}]`;
      let items: unknown[];
      let scope: { name: string; version: string };
      try {
        const ss = obj(ssValue, sp);
        const sc = obj(ss.scope, `${sp}.scope`);
        scope = {
          name: str(sc.name, `${sp}.scope.name`),
          version: str(sc.version, `${sp}.scope.version`),
        };
        items = list(ss.spans, `${sp}.spans`);
      } catch (err) {
        throw new OtlpError((err as Error).message);
      }
      items.forEach((spanValue, i) => {
        const p = `${sp}.spans[${i}]`;
        try {
          spans.push(span(spanValue, p, resource, scope));
        } catch (err) {
          // A value no OTLP request can carry refuses the request; anything
          // else that went wrong with one span rejects that span alone.
          if (err instanceof OtlpError) throw err;
          rejected++;
          error ??= err instanceof ShapeError ? err.message : `${p}: ${errorMessage(err)}`;
        }
      });
    });
  });
  return { spans, rejected, error };
}

function span(
  value: unknown,
  p: string,
  resource: Record<string, unknown>,
  scope: { name: string; version: string },
): SpanRecord {
  const o = obj(value, p);
  const status = obj(o.status, `${p}.status`);
  const record: SpanRecord = {
    trace_id: id(o.traceId, 16, `${p}.traceId`),
    span_id: id(o.spanId, 8, `${p}.spanId`),
    parent_span_id: id(o.parentSpanId, 8, `${p}.parentSpanId`, true),
    trace_state: o.traceState === undefined ? undefined : str(o.traceState, `${p}.traceState`),
    name: str(o.name, `${p}.name`),
    kind: int(o.kind, `${p}.kind`),
    start_time_unix_nano: nanos(o.startTimeUnixNano, `${p}.startTimeUnixNano`),
    end_time_unix_nano: nanos(o.endTimeUnixNano, `${p}.endTimeUnixNano`),
    attributes: attributes(o.attributes, `${p}.attributes`),
    events: list(o.events, `${p}.events`).map((e, i) => {
      const ep = `${p}.events[${i}]`;
      const eo = obj(e, ep);
      return {
        name: str(eo.name, `${ep}.name`),
        time_unix_nano: nanos(eo.timeUnixNano, `${ep}.timeUnixNano`),
        attributes: attributes(eo.attributes, `${ep}.attributes`),
      };
    }),
    links: list(o.links, `${p}.links`).map((l, i) => {
      const lp = `${p}.links[${i}]`;
      const lo = obj(l, lp);
      return {
        trace_id: id(lo.traceId, 16, `${lp}.traceId`),
        span_id: id(lo.spanId, 8, `${lp}.spanId`),
        attributes: attributes(lo.attributes, `${lp}.attributes`),
      };
    }),
    status: {
      code: int(status.code, `${p}.status.code`),
      message: str(status.message, `${p}.status.message`),
    },
    resource,
    scope,
  };
  return record;
}
