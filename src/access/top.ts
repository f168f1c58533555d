/**
 * Bounded counting for top-N lists: exact while a list has fewer than
 * `slack * capacity` keys; past that, the keys with the smallest counts are
 * dropped down to `capacity`, and the largest count dropped becomes the
 * list's error bound (a key dropped and seen again starts from that bound,
 * so a count may be over by at most it, never under). Memory stays within
 * `slack * capacity` keys whatever the log holds.
 *
 * @module
 */

import type { TopEntry } from "./report_schema.ts";

interface Count {
  n: number;
  bytes: number;
}

/** A bounded top-N counter. */
export class TopCounter {
  readonly #capacity: number;
  readonly #limit: number;
  #counts = new Map<string, Count>();
  /** The most one key's count may be over (0 while exact). */
  error = 0;

  /**
   * @param capacity keys kept after a prune
   * @param slack a list is pruned when it holds `slack * capacity` keys: more
   *   slack, fewer prunes (each sorts the list) and a smaller error, more memory
   */
  constructor(capacity = 1000, slack = 2) {
    this.#capacity = capacity;
    this.#limit = Math.max(2, slack) * capacity;
  }

  /** Count one request for `key`. */
  add(key: string, bytes: number, n = 1): void {
    const c = this.#counts.get(key);
    if (c) {
      c.n += n;
      c.bytes += bytes;
      return;
    }
    this.#counts.set(own(key), { n: n + this.error, bytes });
    if (this.#counts.size >= this.#limit) this.#prune();
  }

  #prune(): void {
    const sorted = [...this.#counts].sort((a, b) => b[1].n - a[1].n);
    this.error = Math.max(this.error, sorted[this.#capacity]?.[1].n ?? 0);
    this.#counts = new Map(sorted.slice(0, this.#capacity));
  }

  /** The `n` largest, largest first. */
  top(n: number): TopEntry[] {
    return [...this.#counts].sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1))
      .slice(0, n).map(([value, c]) => ({
        value,
        requests: c.n,
        bytes: c.bytes,
        error: this.error,
      }));
  }

  /** Every key kept and its counts (for merging and saving). */
  entries(): IterableIterator<[string, Count]> {
    return this.#counts.entries();
  }

  /**
   * Add another counter's keys and its error bound (hour summaries into a
   * window, a report's parts into the whole). A key the other counter does
   * not hold may have been dropped there with up to `error` requests, so it
   * gains `error`: counts stay over by at most the two bounds' sum.
   */
  merge(entries: Iterable<[string, Count]>, error = 0): void {
    const theirs = error ? new Set<string>() : undefined;
    for (const [k, c] of entries) {
      this.add(k, c.bytes, c.n);
      theirs?.add(k);
    }
    if (theirs) { for (const [k, c] of this.#counts) if (!theirs.has(k)) c.n += error; }
    this.error += error;
  }
}

/**
 * A copy of a string that does not hold on to the text it was cut from:
 * keys cut from a 4 MiB chunk would otherwise keep the whole chunk alive.
 */
export function own(s: string): string {
  return s.length < 13 ? s : (" " + s).slice(1);
}
