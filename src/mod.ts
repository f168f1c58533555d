/**
 * astron-watch as a library, for Deno/TypeScript services on the same host:
 * the structured logger and its sinks, builders for the platform's workflow
 * records (`WorkflowLog`, `NodeLog`) with their validation, and the
 * platform's metric facade (`Meter`: success and error counts, latency, in
 * flight) on the OpenTelemetry metrics SDK.
 *
 * @example
 * ```ts
 * import { Logger, StderrSink } from "@astron/watch";
 * const log = new Logger({ sinks: [new StderrSink()] }).child({ component: "rpa" });
 * log.info("task done", { sid: "spf0001", ms: 412 });
 * ```
 *
 * @module
 */

export { formatRecord, Logger } from "./log/logger.ts";
export type { LogFields, LogFormat, LoggerOptions, LogLevel, LogSink } from "./log/logger.ts";
export { StderrSink } from "./log/stderr_sink.ts";

export { NodeLogBuilder, WorkflowLogBuilder } from "./workflow_log.ts";
export type { NodeLogInit, WorkflowLogInit } from "./workflow_log.ts";
export { validateRecord } from "./store/workflow.ts";
export type { NodeLog, Usage, ValidateRecordResult, WorkflowRecord } from "./store/workflow.ts";

export {
  defaultLabels,
  INSTRUMENTS,
  LATENCY_BUCKETS,
  Meter,
  PlatformMetrics,
} from "./metrics/meter.ts";
export type {
  DefaultLabels,
  MeterOptions,
  MetricKind,
  PlatformMetricsOptions,
  RecordOptions,
} from "./metrics/meter.ts";

export { formatDuration, parseDuration, parseSize } from "./config/units.ts";
export { VERSION } from "./version.ts";
