/**
 * Reading protobuf bytes by hand, for the receiver's direct decoders
 * (`metrics_wire.ts`): a bounds-checked {@linkcode Reader}, length-delimited
 * fields as spans to read later, short ASCII strings interned, 64-bit
 * integers as protobufjs would give them. Anything that does not parse is a
 * {@linkcode WireError}.
 *
 * @module
 */

/** A protobuf message that does not parse. */
export class WireError extends Error {
  override name = "WireError";
}

/** As protobufjs decodes: a leading byte-order mark is kept. */
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** A position in a protobuf buffer, and the end no read may pass. */
export class Reader {
  pos = 0;
  /** Where reading must stop (the message, or a packed list, being read). */
  end: number;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Require `n` more bytes before the end. */
  need(n: number): void {
    if (this.pos + n > this.end) {
      throw new WireError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
    }
  }

  /** A varint of up to 64 bits, as a number (exact below 2^53). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new WireError("invalid varint encoding");
  }

  /** A varint's low 32 bits, unsigned (as protobufjs reads uint32, enums and int32 alike). */
  uint32(): number {
    let v = 0;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      if (i < 5) v |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return v >>> 0;
    }
    throw new WireError("invalid varint encoding");
  }

  /** A varint as a signed 64-bit decimal (int64). */
  int64(): string {
    const start = this.pos;
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, v).toString();
      shift += 7n;
    }
    this.pos = start;
    throw new WireError("invalid varint encoding");
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The end of a length-delimited field starting here. */
  delimited(): number {
    const len = this.varint();
    this.need(len);
    return this.pos + len;
  }

  /** Skip a field of wire type `wire`; groups nest at most 100 deep (as protobufjs). */
  skip(wire: number, depth = 0): void {
    if (wire === 0) this.varint();
    else if (wire === 1) (this.need(8), this.pos += 8);
    else if (wire === 2) this.pos = this.delimited();
    else if (wire === 5) (this.need(4), this.pos += 4);
    else if (wire === 3) {
      if (depth >= 100) throw new WireError("max depth exceeded");
      // A group: skip to its end tag.
      for (;;) {
        const tag = this.varint();
        if ((tag & 7) === 4) return;
        this.skip(tag & 7, depth + 1);
      }
    } else throw new WireError(`invalid wire type ${wire} at offset ${this.pos}`);
  }
}

/** Recent short ASCII strings by a hash of their bytes: keys and label values repeat in every point. */
const INTERNED = new Array<string>(4096).fill("");

/** UTF-8 text: short ASCII from {@linkcode INTERNED} or built directly, the rest through TextDecoder. */
export function text(buf: Uint8Array, from: number, to: number): string {
  const n = to - from;
  if (n > 32) return utf8.decode(buf.subarray(from, to));
  let h = 0x811c9dc5 ^ n;
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c >= 0x80) return utf8.decode(buf.subarray(from, to));
    h = Math.imul(h ^ c, 0x01000193);
  }
  const slot = (h ^ (h >>> 13)) & 4095;
  const known = INTERNED[slot];
  if (known.length === n) {
    let i = 0;
    while (i < n && known.charCodeAt(i) === buf[from + i]) i++;
    if (i === n) return known;
  }
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(buf[i]);
  INTERNED[slot] = s;
  return s;
}

/** A length-delimited field's bytes in the buffer: `[start, end)`. */
export type Span = [start: number, end: number];

/** Read one length-delimited field (wire type 2 required) as a span; the reader moves past it. */
export function span(r: Reader, wire: number, name: string): Span {
  if (wire !== 2) throw new WireError(`invalid wire type ${wire} for ${name}`);
  const end = r.delimited();
  const s: Span = [r.pos, end];
  r.pos = end;
  return s;
}

/** Require `wire` for a known scalar field. */
export function want(wire: number, expected: number, name: string): void {
  if (wire !== expected) throw new WireError(`invalid wire type ${wire} for ${name}`);
}

/** Visit each field of the message in `s`; the message must end exactly at its end. */
export function fields(r: Reader, s: Span, visit: (field: number, wire: number) => void): void {
  const outer = r.end;
  r.pos = s[0];
  r.end = s[1]; // nothing inside may reach past the message
  while (r.pos < s[1]) {
    const tag = r.varint();
    visit(Math.floor(tag / 8), tag & 7);
  }
  if (r.pos !== s[1]) throw new WireError(`index out of range: ${r.pos} > ${s[1]}`);
  r.end = outer;
}

export function stringAt(r: Reader, wire: number, name: string): string {
  const [from, to] = span(r, wire, name);
  return text(r.buf, from, to);
}

/** The last 64-bit value read by `fixed64Text`, and its text: a request's points share their times. */
const lastTime = { lo: -1, hi: -1, text: "" };

/** A fixed64 as the decimal text of the unsigned value (nanoseconds keep all 64 bits). */
export function fixed64Text(r: Reader): string {
  r.need(8);
  const lo = r.view.getUint32(r.pos, true);
  const hi = r.view.getUint32(r.pos + 4, true);
  r.pos += 8;
  if (lo === lastTime.lo && hi === lastTime.hi) return lastTime.text;
  const t = hi < 0x200000
    ? String(hi * 4294967296 + lo)
    : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  lastTime.lo = lo;
  lastTime.hi = hi;
  lastTime.text = t;
  return t;
}

/** A fixed64 (or sfixed64) as a number: what `Number` gives of its decimal text (one rounding). */
export function fixed64Number(r: Reader, signed: boolean): number {
  r.need(8);
  const lo = r.view.getUint32(r.pos, true);
  let hi = r.view.getUint32(r.pos + 4, true);
  r.pos += 8;
  if (signed && hi >= 0x80000000) hi -= 4294967296;
  return hi * 4294967296 + lo;
}

/** A varint int64 as protobufjs' text would read back: a number when safe, else its decimal text. */
export function int64Value(r: Reader): number | string {
  const start = r.pos;
  const v = r.varint();
  if (r.pos - start <= 7) return v; // below 2^49: exact, and not negative
  r.pos = start;
  const t = r.int64();
  return Number.isSafeInteger(Number(t)) ? Number(t) : t;
}

/** The spans of one repeated message field of the message in `s`. */
export function repeated(r: Reader, s: Span, field: number, name: string): Span[] {
  const out: Span[] = [];
  fields(r, s, (f, wire) => {
    if (f === field) out.push(span(r, wire, name));
    else r.skip(wire);
  });
  return out;
}

/** Read a repeated scalar, packed (wire type 2) or one value a field. */
export function packed(
  r: Reader,
  wire: number,
  name: string,
  read: (r: Reader) => number,
  into: number[],
): void {
  if (wire === 2) {
    const end = r.delimited();
    const outer = r.end;
    r.end = end;
    while (r.pos < end) into.push(read(r));
    r.end = outer;
    return;
  }
  want(wire, 1, name);
  into.push(read(r));
}
