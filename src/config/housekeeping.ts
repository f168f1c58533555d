/**
 * The `housekeeping:` section (issue 13): log directories kept within a
 * disk budget. (Validation is filled in with the housekeeping module.)
 *
 * @module
 */

import type { ConfigReader } from "./reader.ts";

/** One entry of `housekeeping`. */
export interface HousekeepingConfig {
  /** A directory or a glob of directories. */
  path: string;
  /** Total bytes the directory's log files may take (0: no budget). */
  max_size: number;
  /** Files older than this are removed, ms (0: no age limit). */
  max_age: number;
  /** Rotated files older than this are gzipped, ms (0: never). */
  compress_after: number;
  /** Files of each series always kept, newest first. */
  keep_min: number;
}

/** Validate `housekeeping:`; every problem goes to `r`. */
export function readHousekeeping(r: ConfigReader, value: unknown): HousekeepingConfig[] {
  return (r.list(value, "housekeeping") ?? []).map(() => ({
    path: "",
    max_size: 0,
    max_age: 0,
    compress_after: 0,
    keep_min: 3,
  }));
}
