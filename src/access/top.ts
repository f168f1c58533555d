/**
 * Bounded counting for top-N lists: exact while a list has fewer than
 * `2 * capacity` keys; past that, the keys with the smallest counts are
 * dropped down to `capacity`, and the largest count dropped becomes the
 * list's error bound (a key's count may be under by at most that). Memory
 * stays within `2 * capacity` keys whatever the log holds.
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
  #counts = new Map<string, Count>();
  /** The most one key's count may be under (0 while exact). */
  error = 0;

  constructor(capacity = 1000) {
    this.#capacity = capacity;
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
    if (this.#counts.size >= 2 * this.#capacity) this.#prune();
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

  /** Add another counter's keys (hour summaries into a window). */
  merge(entries: Iterable<[string, Count]>, error = 0): void {
    for (const [k, c] of entries) this.add(k, c.bytes, c.n);
    this.error = Math.max(this.error, error);
  }
}

/**
 * A copy of a string that does not hold on to the text it was cut from:
 * keys cut from a 4 MiB chunk would otherwise keep the whole chunk alive.
 */
export function own(s: string): string {
  return s.length < 13 ? s : (" " + s).slice(1);
}
