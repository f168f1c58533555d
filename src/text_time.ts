/**
 * Short texts for people: a latency (`4.20ms`, `120ms`, `1.50s`) and how
 * long ago (`45s`, `3m20s`, `2h5m`, `1d4h`). `/status` and the console share them.
 *
 * @module
 */

/** A latency in ms as a short text; `-` for none. */
export function formatLatency(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  return v < 10
    ? `${v.toFixed(2)}ms`
    : v < 1000
    ? `${v.toFixed(0)}ms`
    : `${(v / 1000).toFixed(2)}s`;
}

/** A span of time in ms as a short text, to the second. */
export function formatAgo(msAgo: number): string {
  const s = Math.max(0, Math.round(msAgo / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
