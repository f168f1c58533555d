/**
 * astron-watch as a library, for Deno/TypeScript services on the same host:
 * the structured logger and its sinks, builders for the platform's workflow
 * records (`WorkflowLog`, `NodeLog`) with their validation, and the
 * platform's metric facade (`Meter`: success and error counts, latency, in
 * flight) on the OpenTelemetry metrics SDK.
 *
 * @example
 * ```ts
 * import { Logger, RotatingFileSink } from "@astron/watch";
 * const sink = new RotatingFileSink({ path: "/opt/core/logs/rpa.log", maxSize: 10_000_000, keep: 10 });
 * const log = new Logger({ sinks: [sink] }).child({ component: "rpa" });
 * log.info("task done", { sid: "spf0001", ms: 412 });
 * await sink.close(); // flushes
 * ```
 *
 * @module
 */

export { formatRecord, Logger } from "./log/logger.ts";
export type { LogFields, LogFormat, LoggerOptions, LogLevel, LogSink } from "./log/logger.ts";
export { StderrSink } from "./log/stderr_sink.ts";
export { RotatingFileSink } from "./log/rotating_file_sink.ts";
export type { RotatingFileSinkOptions, RotatingFileSinkStats } from "./log/rotating_file_sink.ts";

export { NodeLogBuilder, WorkflowLogBuilder } from "./workflow/builders.ts";
export type { NodeLogInit, WorkflowLogInit } from "./workflow/builders.ts";
export { validateRecord } from "./workflow/record.ts";
export type { NodeLog, Usage, ValidateRecordResult, WorkflowRecord } from "./workflow/record.ts";

export { defaultLabels, INSTRUMENTS, Meter, PlatformMetrics } from "./metrics/meter.ts";
export type {
  DefaultLabels,
  MeterOptions,
  MetricKind,
  PlatformMetricsOptions,
  RecordOptions,
} from "./metrics/meter.ts";

export { formatDuration, parseDuration, parseSize } from "./config/units.ts";
export { VERSION } from "./version.ts";
