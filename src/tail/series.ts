/**
 * Rotated files and the live file they came from. `access.log.1`,
 * `access.log.2.gz`, `access.log-20261126` and loguru's
 * `core.2026-11-26_10-00-00_123456.log` belong to the series of
 * `access.log` and `core.log`.
 *
 * @module
 */

const LOGURU = /^(.*)\.\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{6}(\.[^.]+)$/;

/** The live file name a (possibly rotated) file name belongs to. */
export function seriesOf(name: string): string {
  let n = name.replace(/\.gz$/, "");
  const loguru = LOGURU.exec(n);
  if (loguru) return loguru[1] + loguru[2];
  n = n.replace(/\.\d+$/, "").replace(/-\d{8}(\d{2,6})?$/, "");
  return n;
}
