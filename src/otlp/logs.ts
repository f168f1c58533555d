/**
 * OTLP log requests (`ExportLogsServiceRequest`), protobuf or JSON, to spans
 * in normal form ({@linkcode SpanRecord}) so the trace store keeps them as
 * it keeps the platform's span events, linked to a run by `sid`. Each log
 * record becomes one zero-length span:
 *
 * - named after its severity (`INFO`, `ERROR`, ...: the severity text, else
 *   the name of the severity number's range, else `LOG`);
 * - with one event of that name whose attribute `<NAME> LOG` holds the body,
 *   as the platform's own spans carry `INFO`/`ERROR` events with `INFO LOG`
 *   / `ERROR LOG` (and `error: true` from severity ERROR up, whose span
 *   status is then ERROR too);
 * - with the record's attributes (so a `sid` attribute, or the resource's,
 *   links it), plus `otlp.signal: "log"`, and `log.severity_number` /
 *   `log.event_name` when set;
 * - in the record's trace (`traceId`) and under the span it was written in
 *   (`spanId` as the parent). Its own span id, and its trace id when the
 *   record has none, are derived from a hash of the record: the same record
 *   sent again replaces itself rather than doubling, and a log never takes
 *   (and so overwrites) the id of a real span. Without a trace id, the logs
 *   of one `sid` share a trace derived from it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { SpanRecord } from "./traces.ts";
import { decodeRequest, encodeResponse, requestObject, SERVICES } from "./proto.ts";
import { anyValue, attributes, eachItem, id, int, nanos, obj, Refusals, str } from "./values.ts";
import { SID_PATTERN } from "../workflow/record.ts";

const NESTING = { resource: "resourceLogs", scope: "scopeLogs", items: "logRecords" };

/** What one request decoded to: its log records as spans, and those refused with why. */
export interface DecodedLogs {
  /** One span per log record (see the module doc). */
  spans: SpanRecord[];
  /** Log records refused (a malformed record). */
  rejected: number;
  /** The first refusal, naming the record's path. */
  error?: string;
}

/**
 * Decode an `ExportLogsServiceRequest` in protobuf.
 *
 * @param receivedAt epoch ms, the time of a record with neither time nor observed time.
 * @throws {OtlpError} when the bytes are not such a message.
 */
export function decodeLogsProtobuf(bytes: Uint8Array, receivedAt = Date.now()): DecodedLogs {
  return toLogs(decodeRequest(SERVICES.logs, bytes), receivedAt);
}

/**
 * Read an `ExportLogsServiceRequest` in OTLP JSON (already parsed).
 *
 * @throws {OtlpError} when the body is not a JSON object, or its nesting
 *   (`resourceLogs[].scopeLogs[].logRecords[]`) is not well formed.
 */
export function decodeLogsJson(value: unknown, receivedAt = Date.now()): DecodedLogs {
  return toLogs(requestObject(SERVICES.logs, value), receivedAt);
}

/** The success answer, as protobuf: an `ExportLogsServiceResponse` with partial success if any. */
export function encodeLogsResponse(rejected: number, error?: string): Uint8Array<ArrayBuffer> {
  const body = rejected
    ? { partialSuccess: { rejectedLogRecords: rejected, errorMessage: error } }
    : {};
  return encodeResponse(SERVICES.logs, body);
}

/** The success answer, as OTLP JSON. */
export function logsJsonResponse(rejected: number, error?: string): Record<string, unknown> {
  return rejected
    ? { partialSuccess: { rejectedLogRecords: String(rejected), errorMessage: error ?? "" } }
    : {};
}

/** The name of a severity number's range (OTLP `SeverityNumber`: 1-4 TRACE ... 21-24 FATAL). */
export function severityName(n: number): string {
  if (n < 1 || n > 24) return "LOG";
  return ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"][Math.floor((n - 1) / 4)];
}

/** `SEVERITY_NUMBER_ERROR`: records from here up are errors. */
const ERROR_SEVERITY = 17;

function toLogs(body: unknown, receivedAt: number): DecodedLogs {
  const spans: SpanRecord[] = [];
  const refusals = new Refusals();
  const now = (BigInt(Math.max(0, Math.floor(receivedAt))) * 1_000_000n).toString();
  eachItem(body, NESTING, refusals, (item, path, { resource, scope }) => {
    spans.push(logSpan(item, path, resource, scope, now));
  });
  return { spans, rejected: refusals.rejected, error: refusals.error };
}

function logSpan(
  value: unknown,
  p: string,
  resource: Record<string, unknown>,
  scope: { name: string; version: string },
  receivedNanos: string,
): SpanRecord {
  const o = obj(value, p);
  const traceId = id(o.traceId, 16, `${p}.traceId`, true);
  const spanId = id(o.spanId, 8, `${p}.spanId`, true);
  const severity = int(o.severityNumber, `${p}.severityNumber`);
  const severityText = str(o.severityText, `${p}.severityText`).trim();
  const eventName = str(o.eventName, `${p}.eventName`);
  const time = nanos(o.timeUnixNano, `${p}.timeUnixNano`);
  const observed = nanos(o.observedTimeUnixNano, `${p}.observedTimeUnixNano`);
  const at = time !== "0" ? time : observed !== "0" ? observed : receivedNanos;
  const logBody = o.body === undefined || o.body === null ? "" : anyValue(o.body, `${p}.body`);
  const attrs = attributes(o.attributes, `${p}.attributes`);
  const name = (severityText || severityName(severity)).toUpperCase().slice(0, 64);
  const isError = severity >= ERROR_SEVERITY || /^(ERROR|FATAL|CRITICAL)/.test(name);

  const spanAttributes: Record<string, unknown> = { ...attrs, "otlp.signal": "log" };
  if (severity) spanAttributes["log.severity_number"] = severity;
  if (eventName) spanAttributes["log.event_name"] = eventName;
  const eventAttributes: Record<string, unknown> = { [`${name} LOG`]: logBody };
  if (isError) eventAttributes.error = true;

  const digest = hash([
    resource,
    scope,
    traceId,
    spanId,
    at,
    observed,
    severity,
    name,
    logBody,
    attrs,
  ]);
  const sid = attrs.sid ?? resource.sid;
  const derivedTrace = typeof sid === "string" && SID_PATTERN.test(sid)
    ? hash(["sid", sid]).slice(0, 32)
    : digest.slice(16, 48);
  return {
    trace_id: traceId || nonZero(derivedTrace),
    span_id: nonZero(digest.slice(0, 16)),
    parent_span_id: spanId,
    name,
    kind: 0,
    start_time_unix_nano: at,
    end_time_unix_nano: at,
    attributes: spanAttributes,
    events: [{ name, time_unix_nano: at, attributes: eventAttributes }],
    links: [],
    status: { code: isError ? 2 : 0, message: "" },
    resource,
    scope,
  };
}

/** SHA-256 of the JSON of `parts`, as hex. */
function hash(parts: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/** An id is never all zeros (OTLP: invalid); a derived one that is becomes ...01. */
function nonZero(hex: string): string {
  return /^0+$/.test(hex) ? hex.slice(0, -1) + "1" : hex;
}
