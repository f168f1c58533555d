/**
 * Human units in the config: durations (`500ms`, `15s`, `7d`, `1y`) and sizes
 * (`10MB`, `512KiB`). Parsed once, at load; everything inside the agent works
 * in milliseconds and bytes.
 *
 * @module
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  /** 365 days: a calendar-free year, for retention. */
  y: 31_536_000_000,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  tb: 1_000_000_000_000,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i;

/**
 * Parse a duration like `500ms`, `15s`, `1h30m`, `7d` or `1y` (365 days) into
 * milliseconds. There is no upper bound.
 *
 * @returns the milliseconds, or `undefined` when the text is not a duration.
 * @example
 * ```ts
 * parseDuration("1m30s"); // 90000
 * parseDuration("1y"); // 31536000000
 * parseDuration("fast"); // undefined
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "") return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < s.length) {
    const m = DURATION_PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
  }
  return Math.round(total);
}

/**
 * Parse a size like `10MB`, `512KiB` or a plain byte count into bytes.
 * `KB`/`MB`/`GB` are powers of 1000, `KiB`/`MiB`/`GiB` powers of 1024.
 *
 * @returns the bytes, or `undefined` when the text is not a size.
 * @example
 * ```ts
 * parseSize("512KiB"); // 524288
 * parseSize("10MB"); // 10000000
 * ```
 */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "b").toLowerCase();
  return Math.round(Number(m[1]) * SIZE_UNITS[unit]);
}

/** Format milliseconds back into the shortest readable duration (`90s`, `1.5m`). */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(2)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(2)}m`;
  if (ms < 86_400_000) return `${+(ms / 3_600_000).toFixed(2)}h`;
  return `${+(ms / 86_400_000).toFixed(2)}d`;
}
