/**
 * Small statistics shared by the probes' board, the scheduler's lag and the
 * store's usage figures.
 *
 * @module
 */

/**
 * Nearest-rank percentile of numbers sorted ascending (what SQL's
 * `percentile_disc` answers); `null` for none.
 *
 * @example
 * ```ts
 * import { percentile } from "./stats.ts";
 * percentile([1, 2, 3, 4], 0.5); // 2
 * percentile([], 0.99); // null
 * ```
 */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}
