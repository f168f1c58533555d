/**
 * Bounded counting for top-N lists: exact while a list has fewer than
 * `slack * capacity` keys; past that, the keys with the smallest counts are
 * dropped down to `capacity`, and the largest count dropped becomes the
 * list's error bound (a key dropped and seen again starts from that bound,
 * so a count may be over by at most it, never under). Memory stays within
 * `slack * capacity` keys whatever the log holds.
 *
 * Keys are found by their {@linkcode hash53} in flat typed arrays (open
 * addressing): a log with a million clients churns through the list, and a
 * miss there costs a probe and three stores, not a Map entry and an object.
 * Two keys held at once share a count only if their 53-bit hashes collide
 * (about 1 in 10^8 for 8,000 keys).
 *
 * @module
 */

import type { TopEntry } from "./report_schema.ts";
import { hash53, slotOf } from "./hash53.ts";

interface Count {
  n: number;
  bytes: number;
}

/** A bounded top-N counter. */
export class TopCounter {
  readonly #capacity: number;
  readonly #limit: number;
  /** Slots: the key's hash (0: empty; a hash of 0 is stored as 1), its counts and the key. */
  #hashes: Float64Array;
  #n: Float64Array;
  #bytes: Float64Array;
  #keys: string[];
  #size = 0;
  /** The most one key's count may be over (0 while exact). */
  error = 0;

  /**
   * @param capacity keys kept after a prune
   * @param slack a list is pruned when it holds `slack * capacity` keys: more
   *   slack, fewer prunes (each sorts the counts) and a smaller error, more memory
   */
  constructor(capacity = 1000, slack = 2) {
    this.#capacity = capacity;
    this.#limit = Math.max(2, slack) * capacity;
    let slots = 16;
    while (slots < 2 * this.#limit) slots *= 2;
    this.#hashes = new Float64Array(slots);
    this.#n = new Float64Array(slots);
    this.#bytes = new Float64Array(slots);
    this.#keys = new Array<string>(slots).fill("");
  }

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  /** Count `n` requests (of `bytes`) for `key`; `hash` is its `hash53` when the caller has it. */
  add(key: string, bytes: number, n = 1, hash = hash53(key)): void {
    const h = hash || 1;
    const i = slotOf(this.#hashes, h);
    if (this.#hashes[i] === h) {
      this.#n[i] += n;
      this.#bytes[i] += bytes;
      return;
    }
    this.#hashes[i] = h;
    this.#n[i] = n + this.error;
    this.#bytes[i] = bytes;
    this.#keys[i] = own(key);
    if (++this.#size >= this.#limit) this.#prune();
  }

  /** Keep the `capacity` largest; the largest count dropped bounds the error. */
  #prune(): void {
    const counts = new Float64Array(this.#size);
    let k = 0;
    for (let i = 0; i < this.#hashes.length; i++) {
      if (this.#hashes[i] !== 0) counts[k++] = this.#n[i];
    }
    counts.sort();
    const keep = this.#capacity;
    const least = counts[counts.length - keep]; // the smallest count kept
    this.error = Math.max(this.error, counts[counts.length - keep - 1]);
    // Counts above `least` all stay; of those equal to it, as many as fit.
    let ties = keep;
    for (let j = counts.length - 1; j >= 0 && counts[j] > least; j--) ties--;
    const old = { hashes: this.#hashes, n: this.#n, bytes: this.#bytes, keys: this.#keys };
    const slots = old.hashes.length;
    this.#hashes = new Float64Array(slots);
    this.#n = new Float64Array(slots);
    this.#bytes = new Float64Array(slots);
    this.#keys = new Array<string>(slots).fill("");
    this.#size = 0;
    for (let i = 0; i < slots; i++) {
      const h = old.hashes[i];
      if (h === 0) continue;
      const n = old.n[i];
      if (n < least || (n === least && ties-- <= 0)) continue;
      this.#put(h, old.keys[i], n, old.bytes[i]);
    }
  }

  #put(h: number, key: string, n: number, bytes: number): void {
    const i = slotOf(this.#hashes, h);
    this.#hashes[i] = h;
    this.#n[i] = n;
    this.#bytes[i] = bytes;
    this.#keys[i] = key;
    this.#size++;
  }

  /** The `n` largest, largest first (ties by key). */
  top(n: number): TopEntry[] {
    return [...this.entries()].sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1))
      .slice(0, n).map(([value, c]) => ({
        value,
        requests: c.n,
        bytes: c.bytes,
        error: this.error,
      }));
  }

  /** Every key kept and its counts (for merging and saving). */
  *entries(): IterableIterator<[string, Count]> {
    for (let i = 0; i < this.#hashes.length; i++) {
      if (this.#hashes[i] !== 0) yield [this.#keys[i], { n: this.#n[i], bytes: this.#bytes[i] }];
    }
  }

  /**
   * Add another counter's keys and its error bound (hour summaries into a
   * window, a report's parts into the whole). A key the other counter does
   * not hold may have been dropped there with up to `error` requests, so it
   * gains `error`: counts stay over by at most the two bounds' sum.
   */
  merge(entries: Iterable<[string, Count]>, error = 0): void {
    const theirs = error ? new Set<number>() : undefined;
    for (const [k, c] of entries) {
      const h = hash53(k);
      theirs?.add(h || 1);
      this.add(k, c.bytes, c.n, h);
    }
    if (theirs) {
      for (let i = 0; i < this.#hashes.length; i++) {
        const h = this.#hashes[i];
        if (h !== 0 && !theirs.has(h)) this.#n[i] += error;
      }
    }
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
