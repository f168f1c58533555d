/**
 * 53-bit string hashes and a compact set of them: how the access-log
 * analysis counts unique visitors without keeping their strings.
 *
 * @module
 */

const K1 = 2654435761;
const K2 = 1597334677;
const SEP = 0x7c; // "|"

/** The two lanes between {@linkcode feed} calls. */
let lane1 = 0;
let lane2 = 0;

/** Feed `s` into the lanes, two UTF-16 units per step. */
function feed(s: string): void {
  let h1 = lane1, h2 = lane2;
  const n = s.length - 1;
  let i = 0;
  for (; i < n; i += 2) {
    const w = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    h1 = Math.imul(h1 ^ w, K1);
    h2 = Math.imul(h2 ^ w, K2);
  }
  if (i === n) {
    const w = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ w, K1);
    h2 = Math.imul(h2 ^ w, K2);
  }
  lane1 = h1;
  lane2 = h2;
}

function separate(): void {
  lane1 = Math.imul(lane1 ^ SEP, K1);
  lane2 = Math.imul(lane2 ^ SEP, K2);
}

/**
 * A 53-bit hash of a string, or of two or three joined by `|`: two 32-bit
 * multiply-xorshift lanes, fed two UTF-16 units per step (the lanes are
 * latency-bound: half the steps, half the time). Two keys share a hash
 * about n^2 / 2^54 of the time (1 in 36,000 for 1M keys).
 */
export function hash53(a: string, b?: string, c?: string): number {
  lane1 = 0xdeadbeef;
  lane2 = 0x41c6ce57;
  feed(a);
  if (b !== undefined) {
    separate();
    feed(b);
    if (c !== undefined) {
      separate();
      feed(c);
    }
  }
  return finish(lane1, lane2);
}

/**
 * The hash of `s` with its ASCII digits left out: one value for every
 * version of the same user agent (`Chrome/104.0.1` and `Chrome/120.0.2`
 * alike). Runs of non-digits are fed as they are.
 */
export function hash53WithoutDigits(s: string): number {
  lane1 = 0xdeadbeef;
  lane2 = 0x41c6ce57;
  let h1 = lane1, h2 = lane2;
  let held = 0;
  let pair = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) continue;
    if (pair) {
      const w = held | (c << 16);
      h1 = Math.imul(h1 ^ w, K1);
      h2 = Math.imul(h2 ^ w, K2);
    } else held = c;
    pair = !pair;
  }
  if (pair) {
    h1 = Math.imul(h1 ^ held, K1);
    h2 = Math.imul(h2 ^ held, K2);
  }
  return finish(h1, h2);
}

function finish(h1: number, h2: number): number {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The slot of `h` (a nonzero {@linkcode hash53}) in an open-addressing table
 * of such hashes (`hashes.length` a power of two, 0 marking an empty slot,
 * linear probing from its low 32 bits, the well-mixed lane): where it is,
 * or the empty slot where it goes. The table must have an empty slot.
 */
export function slotOf(hashes: Float64Array, h: number): number {
  const mask = hashes.length - 1;
  let i = (h >>> 0) & mask;
  for (;;) {
    const v = hashes[i];
    if (v === h || v === 0) return i;
    i = (i + 1) & mask;
  }
}

/**
 * A set of {@linkcode hash53} values in one Float64Array (open addressing,
 * linear probing, at most half full): 16 bytes or less per member and no
 * object per member, where a `Set<number>` of such values boxes each one.
 */
export class Hash53Set {
  #slots = new Float64Array(1024);
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
    const i = slotOf(slots, h);
    if (slots[i] === h) return false;
    slots[i] = h;
    if (++this.size * 2 > slots.length) this.#grow();
    return true;
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Float64Array(old.length * 2);
    for (let j = 0; j < old.length; j++) {
      const h = old[j];
      if (h !== 0) slots[slotOf(slots, h)] = h;
    }
    this.#slots = slots;
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
