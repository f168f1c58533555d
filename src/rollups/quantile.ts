/**
 * Quantiles from explicit-bucket histograms, as Prometheus'
 * `histogram_quantile` computes them: find the bucket the rank falls in and
 * interpolate linearly inside it; the first bucket starts at 0 (unless its
 * upper bound is not above 0), and a rank in the `+Inf` bucket answers the
 * highest finite bound.
 *
 * @module
 */

/** A histogram: upper bounds (ascending) and counts per bucket, one more than bounds (`+Inf`). */
export interface Buckets {
  bounds: readonly number[];
  /** Observations per bucket (not cumulative); `counts.length === bounds.length + 1`. */
  counts: ArrayLike<number>;
}

/**
 * The `q` quantile of `h`, as Prometheus' `histogram_quantile(q, ...)`.
 *
 * @returns `NaN` when there are no observations (or no finite bound), `-Inf`
 *   for `q < 0`, `+Inf` for `q > 1`.
 * @example
 * ```ts
 * // 10 observations in (0, 5], 10 in (5, 10]
 * histogramQuantile(0.5, { bounds: [0, 5, 10], counts: [0, 10, 10, 0] }); // 5
 * histogramQuantile(0.75, { bounds: [0, 5, 10], counts: [0, 10, 10, 0] }); // 7.5
 * ```
 */
export function histogramQuantile(q: number, h: Buckets): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const { bounds, counts } = h;
  if (bounds.length === 0) return NaN;
  // Cumulative counts, kept monotonic as Prometheus' `coalesceBuckets` and `ensureMonotonic` do.
  const cumulative = new Array<number>(bounds.length + 1);
  let running = 0;
  for (let i = 0; i <= bounds.length; i++) {
    running += Math.max(0, counts[i] ?? 0);
    cumulative[i] = running;
  }
  const total = cumulative[bounds.length];
  if (!(total > 0)) return NaN;
  let rank = q * total;
  let b = 0;
  while (b < bounds.length && cumulative[b] < rank) b++;
  if (b === bounds.length) return bounds[bounds.length - 1];
  if (b === 0 && bounds[0] <= 0) return bounds[0];
  let start = 0;
  let count = cumulative[b];
  if (b > 0) {
    start = bounds[b - 1];
    count -= cumulative[b - 1];
    rank -= cumulative[b - 1];
  }
  if (count === 0) return bounds[b];
  return start + (bounds[b] - start) * (rank / count);
}

/**
 * Several histograms as one. Identical bounds add bucket by bucket; where
 * bounds differ, the result has every bound of any part, and a part counts
 * at each bound what it holds at its own largest bound not above it (never
 * more than it observed there).
 */
export function mergeBuckets(parts: readonly Buckets[]): Buckets | undefined {
  if (parts.length === 0) return undefined;
  const first = parts[0];
  const same = parts.every((p) => sameBounds(p.bounds, first.bounds));
  if (same) {
    const counts = new Array<number>(first.bounds.length + 1).fill(0);
    for (const p of parts) for (let i = 0; i < counts.length; i++) counts[i] += p.counts[i] ?? 0;
    return { bounds: first.bounds, counts };
  }
  const bounds = [...new Set(parts.flatMap((p) => p.bounds))].sort((a, b) => a - b);
  const cumulative = new Array<number>(bounds.length + 1).fill(0);
  for (const p of parts) {
    let j = -1;
    let running = 0;
    for (let i = 0; i < bounds.length; i++) {
      while (j + 1 < p.bounds.length && p.bounds[j + 1] <= bounds[i]) {
        j++;
        running += p.counts[j] ?? 0;
      }
      cumulative[i] += running;
    }
    let total = 0;
    for (let i = 0; i <= p.bounds.length; i++) total += p.counts[i] ?? 0;
    cumulative[bounds.length] += total;
  }
  const counts = cumulative.map((c, i) => i === 0 ? c : c - cumulative[i - 1]);
  return { bounds, counts };
}

/** True when two bound lists are the same. */
export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
