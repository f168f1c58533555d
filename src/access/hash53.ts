/**
 * 53-bit string hashes and a compact set of them: how the access-log
 * analysis counts unique visitors without keeping their strings.
 *
 * @module
 */

const SEP = 0x7c; // "|"

/**
 * A 53-bit hash of a string, or of several joined by `|` (the same value as
 * hashing the joined string, without building it): two 32-bit
 * multiply-xorshift lanes. Two keys share a hash about n^2 / 2^54 of the
 * time (1 in 36,000 for 1M keys).
 */
export function hash53(...parts: string[]): number {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let p = 0; p < parts.length; p++) {
    if (p > 0) {
      h1 = Math.imul(h1 ^ SEP, 2654435761);
      h2 = Math.imul(h2 ^ SEP, 1597334677);
    }
    const s = parts[p];
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
  }
  return finish(h1, h2);
}

/**
 * The {@linkcode hash53} of `s` with its ASCII digits left out: one value
 * for every version of the same user agent (`Chrome/104.0.1` and
 * `Chrome/120.0.2` alike).
 */
export function hash53WithoutDigits(s: string): number {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) continue;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  return finish(h1, h2);
}

function finish(h1: number, h2: number): number {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * A set of {@linkcode hash53} values in one Float64Array (open addressing,
 * linear probing, at most half full): 16 bytes or less per member and no
 * object per member, where a `Set<number>` of such values boxes each one.
 */
export class Hash53Set {
  #slots = new Float64Array(1024);
  #mask = 1023;
  /** The members counted. */
  size = 0;
  /** Whether 0 (which marks an empty slot) is a member. */
  #zero = false;

  /** Add `h` (a non-negative integer below 2^53); true when it was new. */
  add(h: number): boolean {
    if (h === 0) {
      if (this.#zero) return false;
      this.#zero = true;
      this.size++;
      return true;
    }
    const slots = this.#slots;
    let i = (h >>> 0) & this.#mask; // the low 32 bits are the well-mixed lane
    for (;;) {
      const v = slots[i];
      if (v === h) return false;
      if (v === 0) break;
      i = (i + 1) & this.#mask;
    }
    slots[i] = h;
    if (++this.size * 2 > slots.length) this.#grow();
    return true;
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Float64Array(old.length * 2);
    const mask = slots.length - 1;
    for (let j = 0; j < old.length; j++) {
      const h = old[j];
      if (h === 0) continue;
      let i = (h >>> 0) & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = h;
    }
    this.#slots = slots;
    this.#mask = mask;
  }

  /** Every member, in no order (0 last when it is one). */
  members(): Float64Array {
    const out = new Float64Array(this.size);
    let n = 0;
    for (const h of this.#slots) if (h !== 0) out[n++] = h;
    if (this.#zero) out[n] = 0;
    return out;
  }

  /** Add every value of `members` (another set's {@linkcode Hash53Set.members}). */
  addMembers(members: Float64Array): void {
    for (let i = 0; i < members.length; i++) this.add(members[i]);
  }
}
