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

import { decodeRequest, encodeResponse, requestObject, SERVICES } from "./proto.ts";
import {
  attributes,
  eachItem,
  id,
  int,
  list,
  nanos,
  obj,
  OtlpError,
  Refusals,
  str,
} from "./values.ts";

export { OtlpError };

const NESTING = { resource: "resourceSpans", scope: "scopeSpans", items: "spans" };

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

/**
 * Decode an `ExportTraceServiceRequest` in protobuf.
 *
 * @throws {OtlpError} when the bytes are not such a message.
 */
export function decodeProtobuf(bytes: Uint8Array): DecodedSpans {
  return toSpans(decodeRequest(SERVICES.traces, bytes));
}

/**
 * Read an `ExportTraceServiceRequest` in OTLP JSON (already parsed).
 *
 * @throws {OtlpError} when the body is not a JSON object (`null` included),
 *   naming the path of the first field of a wrong type, or naming a time past
 *   2^64-1 nanoseconds (no OTLP message can carry one).
 */
export function decodeJson(value: unknown): DecodedSpans {
  return toSpans(requestObject(SERVICES.traces, value));
}

/** The success answer, as protobuf: an `ExportTraceServiceResponse` with partial success if any. */
export function encodeProtobufResponse(
  rejected: number,
  error?: string,
): Uint8Array<ArrayBuffer> {
  const body = rejected ? { partialSuccess: { rejectedSpans: rejected, errorMessage: error } } : {};
  return encodeResponse(SERVICES.traces, body);
}

/** The success answer, as OTLP JSON. */
export function jsonResponse(rejected: number, error?: string): Record<string, unknown> {
  return rejected
    ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: error ?? "" } }
    : {};
}

function toSpans(value: unknown): DecodedSpans {
  const spans: SpanRecord[] = [];
  const refusals = new Refusals();
  eachItem(value, NESTING, refusals, (item, path, { resource, scope }) => {
    spans.push(span(item, path, resource, scope));
  });
  return { spans, rejected: refusals.rejected, error: refusals.error };
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
