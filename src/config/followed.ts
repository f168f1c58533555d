/**
 * What every followed-log entry (`access_logs`, `service_logs`) has: a
 * unique name, a file or glob, the longest line kept and how often the
 * files are looked at.
 *
 * @module
 */

import { type ConfigReader, show } from "./reader.ts";

/** The keys every followed-log entry takes. */
export const FOLLOWED_KEYS = ["name", "path", "max_line", "poll_interval"] as const;

/** The fields every followed-log entry has. */
export interface FollowedEntry {
  name: string;
  /** A file or a glob. */
  path: string;
  /** Longest line kept, bytes; longer ones are cut and counted. */
  max_line: number;
  /** How often the files are looked at, ms (default 500 ms). */
  poll_interval: number;
}

/**
 * Read the entries of a followed-log section: each as a mapping of
 * `FOLLOWED_KEYS` and `keys`, names unique within the section, and `more`
 * reading the rest of one entry.
 */
export function readFollowed<T extends FollowedEntry>(
  r: ConfigReader,
  value: unknown,
  section: string,
  o: { keys: readonly string[]; maxLine: number },
  more: (entry: Record<string, unknown>, at: string, base: FollowedEntry) => T,
): T[] {
  const seen = new Set<string>();
  return (r.list(value, section) ?? []).map((item, i) => {
    const at = `${section}[${i}]`;
    const e = r.object(item, at, [...FOLLOWED_KEYS, ...o.keys]);
    const name = r.string(e.name, `${at}.name`, "");
    if (!name) r.fail(`${at}.name`, "is required");
    else if (r.name(name, `${at}.name`) && seen.has(name)) {
      r.fail(`${at}.name`, `${show(name)} is already used`);
    }
    seen.add(name);
    const path = r.string(e.path, `${at}.path`, "");
    if (!path) r.fail(`${at}.path`, "is required (a file or a glob)");
    return more(e, at, {
      name,
      path,
      max_line: r.size(e.max_line, `${at}.max_line`, o.maxLine, 256),
      poll_interval: r.duration(e.poll_interval, `${at}.poll_interval`, 500, 10),
    });
  });
}

/**
 * Whether two lists of followed-log entries are the same config, their
 * patterns compared by source and flags (JSON alone turns every RegExp into `{}`).
 */
export function sameEntries(a: readonly FollowedEntry[], b: readonly FollowedEntry[]): boolean {
  const text = (v: unknown) =>
    JSON.stringify(v, (_k, x) => x instanceof RegExp ? `/${x.source}/${x.flags}` : x);
  return text(a) === text(b);
}
