/**
 * The `service_logs:` section (issue 13): the platform's services' own log
 * files (loguru by default), counted per file and level, with the error
 * lines that name `alert_keywords` kept as examples.
 *
 * @module
 */

import { type ConfigReader, show } from "./reader.ts";
import { type FollowedEntry, readFollowed } from "./followed.ts";

/** One entry of `service_logs`. */
export interface ServiceLogConfig extends FollowedEntry {
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
}

function strings(r: ConfigReader, value: unknown, path: string, fallback: string[]): string[] {
  const list = r.list(value, path);
  return list ? list.map((v, i) => r.string(v, `${path}[${i}]`, "")) : fallback;
}

/** Validate `service_logs:`; every problem goes to `r`. */
export function readServiceLogs(r: ConfigReader, value: unknown): ServiceLogConfig[] {
  return readFollowed(r, value, "service_logs", {
    keys: ["format", "regex", "alert_keywords", "error_levels", "examples"],
    maxLine: 64 * 1024,
  }, (o, at, base) => {
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
    return {
      ...base,
      format,
      regex,
      alert_keywords: strings(r, o.alert_keywords, `${at}.alert_keywords`, [
        "Exception",
        "Timeout",
      ]),
      error_levels: strings(r, o.error_levels, `${at}.error_levels`, ["ERROR", "CRITICAL"])
        .map((l) => l.toUpperCase()),
      examples: r.integer(o.examples, `${at}.examples`, 50, 0, 10_000),
    };
  });
}
