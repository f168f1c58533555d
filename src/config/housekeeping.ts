/**
 * The `housekeeping:` section (issue 13): log directories kept within a
 * disk budget. Rotated files are gzipped after `compress_after`, deleted
 * after `max_age`, and deleted oldest first while the directory is over
 * `max_size`; never a file open for writing, the live file or the newest of
 * a series, and never below `keep_min` files per series (see
 * `src/housekeeping/plan.ts`).
 *
 * ```yaml
 * housekeeping:
 *   - path: /opt/core/logs      # a directory, or a glob of directories
 *     pattern: "*"              # file names looked at (default all)
 *     max_size: 5GB
 *     max_age: 30d
 *     compress_after: 1d
 *     keep_min: 3
 *     interval: 1h
 * ```
 *
 * @module
 */

import { type ConfigReader, show } from "./reader.ts";
import { globToRegExp } from "../tail/glob.ts";

/** One entry of `housekeeping`. */
export interface HousekeepingConfig {
  /** A directory or a glob of directories. */
  path: string;
  /** A glob of file names looked at (default `*`); a rotated file matches when its live log's name does. */
  pattern: string;
  /** `pattern`, compiled. */
  match: RegExp;
  /** Total bytes the directory's log files may take (0: no budget). */
  max_size: number;
  /** Files older than this are removed, ms (0: no age limit). */
  max_age: number;
  /** Rotated files older than this are gzipped, ms (0: never). */
  compress_after: number;
  /** Files of each series always kept, newest first. */
  keep_min: number;
  /** How often the agent looks, ms (default 1h). */
  interval: number;
}

const KEYS = [
  "path",
  "pattern",
  "max_size",
  "max_age",
  "compress_after",
  "keep_min",
  "interval",
] as const;

/** Validate `housekeeping:`; every problem goes to `r`. */
export function readHousekeeping(r: ConfigReader, value: unknown): HousekeepingConfig[] {
  const out: HousekeepingConfig[] = [];
  const seen = new Map<string, number>();
  (r.list(value, "housekeeping") ?? []).forEach((item, i) => {
    const at = `housekeeping[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      r.fail(
        at,
        `expected a mapping with path and max_size, max_age or compress_after, got ${show(item)}`,
      );
      return;
    }
    const o = r.object(item, at, KEYS);
    const path = r.string(o.path, `${at}.path`, "").replace(/(.)\/+$/, "$1");
    if (!path) r.fail(`${at}.path`, "is required (a directory or a glob of directories)");
    const pattern = r.string(o.pattern, `${at}.pattern`, "*");
    if (pattern === "" || pattern.includes("/")) {
      r.fail(`${at}.pattern`, `${show(pattern)} is not a glob of file names (like *.log)`);
    }
    const key = `${path}\n${pattern}`;
    if (path && seen.has(key)) {
      r.fail(`${at}.path`, `${show(path)} is already kept by housekeeping[${seen.get(key)}]`);
    } else seen.set(key, i);
    const before = r.problems.length;
    const max_size = r.size(o.max_size, `${at}.max_size`, 0);
    const max_age = r.duration(o.max_age, `${at}.max_age`, 0);
    const compress_after = r.duration(o.compress_after, `${at}.compress_after`, 0);
    if (r.problems.length === before && !max_size && !max_age && !compress_after) {
      r.fail(at, "nothing to do: set max_size, max_age or compress_after");
    }
    out.push({
      path,
      pattern,
      match: globToRegExp(pattern),
      max_size,
      max_age,
      compress_after,
      keep_min: r.integer(o.keep_min, `${at}.keep_min`, 3, 1, 1_000_000),
      interval: r.duration(o.interval, `${at}.interval`, 3_600_000, 1_000),
    });
  });
  return out;
}
