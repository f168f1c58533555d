/**
 * The `service_logs:` section (issue 13): the platform's services' own log
 * files (loguru by default), counted per file and level, with the error
 * lines that name `alert_keywords` kept as examples.
 *
 * @module
 */

import { type ConfigReader, show } from "./reader.ts";

/** One entry of `service_logs`. */
export interface ServiceLogConfig {
  name: string;
  /** A file or a glob (`/opt/core/logs/*.log`). */
  path: string;
  /** `loguru` (the platform's), `json` (one object per line), or `regex` with `regex:`. */
  format: "loguru" | "json" | "regex";
  /** `format: regex`: named groups `level` and `message` (and optionally `time`, `sid`). */
  regex?: RegExp;
  /** Error lines containing any of these are kept as examples (default Exception, Timeout). */
  alert_keywords: string[];
  /** Levels that count as errors (default ERROR, CRITICAL). */
  error_levels: string[];
  /** Recent examples kept per entry (default 50). */
  examples: number;
  max_line: number;
  poll_interval: number;
}

const KEYS = [
  "name",
  "path",
  "format",
  "regex",
  "alert_keywords",
  "error_levels",
  "examples",
  "max_line",
  "poll_interval",
] as const;

function strings(r: ConfigReader, value: unknown, path: string, fallback: string[]): string[] {
  const list = r.list(value, path);
  return list ? list.map((v, i) => r.string(v, `${path}[${i}]`, "")) : fallback;
}

/** Validate `service_logs:`; every problem goes to `r`. */
export function readServiceLogs(r: ConfigReader, value: unknown): ServiceLogConfig[] {
  const out: ServiceLogConfig[] = [];
  const seen = new Set<string>();
  (r.list(value, "service_logs") ?? []).forEach((item, i) => {
    const at = `service_logs[${i}]`;
    const o = r.object(item, at, KEYS);
    const name = r.string(o.name, `${at}.name`, "");
    if (!name) r.fail(`${at}.name`, "is required");
    else if (r.name(name, `${at}.name`) && seen.has(name)) {
      r.fail(`${at}.name`, `${show(name)} is already used`);
    }
    seen.add(name);
    const path = r.string(o.path, `${at}.path`, "");
    if (!path) r.fail(`${at}.path`, "is required (a file or a glob)");
    const format = r.oneOf(
      o.format,
      `${at}.format`,
      ["loguru", "json", "regex"] as const,
      "loguru",
    );
    let regex: RegExp | undefined;
    if (format === "regex") {
      const text = r.string(o.regex, `${at}.regex`, "");
      try {
        regex = new RegExp(text);
        if (!/\(\?<level>/.test(text) || !/\(\?<message>/.test(text)) {
          r.fail(`${at}.regex`, "needs the named groups (?<level>...) and (?<message>...)");
        }
      } catch (e) {
        r.fail(`${at}.regex`, `${show(text)} is not a regex: ${(e as Error).message}`);
      }
    } else if (o.regex !== undefined) {
      r.fail(`${at}.regex`, "is only for format: regex");
    }
    out.push({
      name,
      path,
      format,
      regex,
      alert_keywords: strings(r, o.alert_keywords, `${at}.alert_keywords`, [
        "Exception",
        "Timeout",
      ]),
      error_levels: strings(r, o.error_levels, `${at}.error_levels`, ["ERROR", "CRITICAL"])
        .map((l) => l.toUpperCase()),
      examples: r.integer(o.examples, `${at}.examples`, 50, 0, 10_000),
      max_line: r.size(o.max_line, `${at}.max_line`, 64 * 1024, 256),
      poll_interval: r.duration(o.poll_interval, `${at}.poll_interval`, 500, 10),
    });
  });
  return out;
}
