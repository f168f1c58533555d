/**
 * The three OTLP signals side by side: for each, how a request is decoded
 * (protobuf or JSON) into what the intake takes, how the answer is encoded,
 * and the gRPC method that carries it. Transports look the signal up here
 * instead of branching on it.
 *
 * @module
 */

import type { ReceivedMetric } from "./metric_points.ts";
import { encodeJsonRequest, SERVICES } from "./proto.ts";
import { decodeJson, decodeProtobuf, encodeProtobufResponse, jsonResponse } from "./traces.ts";
import type { SpanRecord } from "./traces.ts";
import {
  decodeMetricsJson,
  decodeMetricsProtobuf,
  encodeMetricsResponse,
  metricsJsonResponse,
  pointCount,
} from "./metrics.ts";
import {
  decodeLogsJson,
  decodeLogsProtobuf,
  encodeLogsResponse,
  logsJsonResponse,
} from "./logs.ts";

/** An OTLP signal. */
export type Signal = "traces" | "metrics" | "logs";

/** Every signal, in a fixed order. */
export const SIGNALS: readonly Signal[] = ["traces", "metrics", "logs"];

/** A decoded request: what the intake takes, how many items it held, and the refused ones. */
export type Decoded =
  | {
    signal: "traces" | "logs";
    spans: SpanRecord[];
    items: number;
    rejected: number;
    error?: string;
  }
  | {
    signal: "metrics";
    metrics: ReceivedMetric[];
    items: number;
    rejected: number;
    error?: string;
  };

/** One signal's wire format. */
export interface SignalCodec {
  /** What an item is called in messages: `spans`, `points`, `log records`. */
  item: string;
  /** @throws {OtlpError} when the request cannot be read at all. */
  decodeProtobuf(bytes: Uint8Array, receivedAt: number): Decoded;
  /** @throws {OtlpError} when the request cannot be read at all. */
  decodeJson(value: unknown, receivedAt: number): Decoded;
  /** The success answer (with partial success when `rejected`), in protobuf. */
  protobufAnswer(rejected: number, error?: string): Uint8Array<ArrayBuffer>;
  /** The success answer, in OTLP JSON. */
  jsonAnswer(rejected: number, error?: string): Record<string, unknown>;
  /** A request that came as OTLP/JSON, in protobuf (for forwarding). */
  jsonToProtobuf(value: unknown): Uint8Array;
  /** The gRPC method: `/opentelemetry.proto.collector.trace.v1.TraceService/Export`. */
  grpcPath: string;
}

const spans = (
  signal: "traces" | "logs",
  d: { spans: SpanRecord[]; rejected: number; error?: string },
): Decoded => ({
  signal,
  spans: d.spans,
  items: d.spans.length,
  rejected: d.rejected,
  error: d.error,
});

const metrics = (d: { metrics: ReceivedMetric[]; rejected: number; error?: string }): Decoded => ({
  signal: "metrics",
  metrics: d.metrics,
  items: pointCount(d.metrics),
  rejected: d.rejected,
  error: d.error,
});

/** The codec of each signal. */
export const CODECS: Record<Signal, SignalCodec> = {
  traces: {
    item: "spans",
    decodeProtobuf: (bytes) => spans("traces", decodeProtobuf(bytes)),
    decodeJson: (value) => spans("traces", decodeJson(value)),
    protobufAnswer: encodeProtobufResponse,
    jsonAnswer: jsonResponse,
    jsonToProtobuf: (value) => encodeJsonRequest(SERVICES.traces, value),
    grpcPath: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
  },
  metrics: {
    item: "points",
    decodeProtobuf: (bytes) => metrics(decodeMetricsProtobuf(bytes)),
    decodeJson: (value) => metrics(decodeMetricsJson(value)),
    protobufAnswer: encodeMetricsResponse,
    jsonAnswer: metricsJsonResponse,
    jsonToProtobuf: (value) => encodeJsonRequest(SERVICES.metrics, value),
    grpcPath: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
  },
  logs: {
    item: "log records",
    decodeProtobuf: (bytes, at) => spans("logs", decodeLogsProtobuf(bytes, at)),
    decodeJson: (value, at) => spans("logs", decodeLogsJson(value, at)),
    protobufAnswer: encodeLogsResponse,
    jsonAnswer: logsJsonResponse,
    jsonToProtobuf: (value) => encodeJsonRequest(SERVICES.logs, value),
    grpcPath: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
  },
};
