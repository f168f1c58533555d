/**
 * Rotated files and the live file they came from, for the followers and
 * housekeeping alike: `access.log.1`, `access.log.2.gz`,
 * `access.log-20261126` and loguru's `core.2026-11-26_10-00-00_123456.log`
 * belong to the series of `access.log` and `core.log`.
 *
 * @module
 */

/** Suffixes of files that are compressed already. */
const COMPRESSED = /\.(?:gz|bz2|xz|zst|lz4|zip)$/;
/** loguru: `NAME.YYYY-MM-DD_HH-mm-ss_ffffff[.N]EXT`, EXT being the live file's extension. */
const LOGURU = /^(.+)\.\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{6}(?:\.\d+)?(\.[^.\d][^.]*)?$/;
/** logrotate and Python: `NAME.1`, `NAME-20261126[HH]`, `NAME.2026-11-26[_HH[-MM[-SS]]]`. */
const SUFFIXED =
  /^(.+?)(?:\.\d+|-\d{8}(?:\d{2})?|[.-]\d{4}-\d{2}-\d{2}(?:[_T-]\d{2}(?:[-:]\d{2}){0,2})?)$/;
/**
 * The series of a file name: the name of the live log it was rotated from.
 *
 * @example
 * ```ts
 * seriesOf("core.2026-11-26_10-00-00_123456.log"); // "core.log"
 * seriesOf("access.log.2.gz"); // "access.log"
 * seriesOf("access.log-20261126"); // "access.log"
 * seriesOf("core.log"); // "core.log"
 * ```
 */
export function seriesOf(name: string): string {
  const plain = name.replace(COMPRESSED, "");
  const loguru = LOGURU.exec(plain);
  if (loguru) return loguru[1] + (loguru[2] ?? "");
  const suffixed = SUFFIXED.exec(plain);
  return suffixed ? suffixed[1] : plain;
}

/** True when the name ends in a compression suffix (`.gz`, `.xz`, ...). */
export function isCompressed(name: string): boolean {
  return COMPRESSED.test(name);
}
