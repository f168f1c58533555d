/**
 * astron-watch as a library, for Deno/TypeScript services on the same host:
 * the structured logger and its sinks, and the config units.
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
export { formatDuration, parseDuration, parseSize } from "./config/units.ts";
export { VERSION } from "./version.ts";
