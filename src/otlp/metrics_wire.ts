/**
 * A direct protobuf reader for `ExportMetricsServiceRequest`: the bytes to
 * the same plain object protobufjs gives (`decode`, then `toObject` with
 * {@linkcode TO_OBJECT}: camelCase names, 64-bit integers as decimal
 * strings, enums as numbers, every repeated field as a list), in one pass
 * and without building protobufjs' message objects in between. Metric points
 * are the receiver's busiest input; the checks after it stay the ones the
 * JSON form goes through (`metrics.ts`). Fields it does not know are skipped.
 *
 * The schema below follows `opentelemetry/proto/metrics/v1/metrics.proto`
 * and `common/v1/common.proto`.
 *
 * @module
 */

type Scalar =
  | "string"
  | "bytes"
  | "double"
  | "fixed64"
  | "sfixed64"
  | "int64"
  | "uint32"
  | "bool"
  | "enum";

/** One field: its JSON name, its type (a scalar or a message), and whether it repeats. */
type Field = readonly [name: string, type: Scalar | Schema, repeated?: true];
/** A message: its fields by number. */
type Schema = { readonly [num: number]: Field };

const anyValue: Schema = {};
const keyValue: Schema = { 1: ["key", "string"], 2: ["value", anyValue] };
Object.assign(anyValue, {
  1: ["stringValue", "string"],
  2: ["boolValue", "bool"],
  3: ["intValue", "int64"],
  4: ["doubleValue", "double"],
  5: ["arrayValue", { 1: ["values", anyValue, true] }],
  6: ["kvlistValue", { 1: ["values", keyValue, true] }],
  7: ["bytesValue", "bytes"],
});
const attributes: Field = ["attributes", keyValue, true];
const exemplar: Schema = {
  7: ["filteredAttributes", keyValue, true],
  2: ["timeUnixNano", "fixed64"],
  3: ["asDouble", "double"],
  6: ["asInt", "sfixed64"],
  4: ["spanId", "bytes"],
  5: ["traceId", "bytes"],
};
const numberPoint: Schema = {
  7: attributes,
  2: ["startTimeUnixNano", "fixed64"],
  3: ["timeUnixNano", "fixed64"],
  4: ["asDouble", "double"],
  6: ["asInt", "sfixed64"],
  5: ["exemplars", exemplar, true],
  8: ["flags", "uint32"],
};
const histogramPoint: Schema = {
  9: attributes,
  2: ["startTimeUnixNano", "fixed64"],
  3: ["timeUnixNano", "fixed64"],
  4: ["count", "fixed64"],
  5: ["sum", "double"],
  6: ["bucketCounts", "fixed64", true],
  7: ["explicitBounds", "double", true],
  8: ["exemplars", exemplar, true],
  10: ["flags", "uint32"],
  11: ["min", "double"],
  12: ["max", "double"],
};
/** Kinds the receiver refuses: only their points are counted, their fields are not read. */
const refusedKind: Schema = { 1: ["dataPoints", {}, true] };
const metric: Schema = {
  1: ["name", "string"],
  2: ["description", "string"],
  3: ["unit", "string"],
  5: ["gauge", { 1: ["dataPoints", numberPoint, true] }],
  7: ["sum", {
    1: ["dataPoints", numberPoint, true],
    2: ["aggregationTemporality", "enum"],
    3: ["isMonotonic", "bool"],
  }],
  9: ["histogram", {
    1: ["dataPoints", histogramPoint, true],
    2: ["aggregationTemporality", "enum"],
  }],
  10: ["exponentialHistogram", refusedKind],
  11: ["summary", refusedKind],
  12: ["metadata", keyValue, true],
};
const entityRef: Schema = {
  1: ["schemaUrl", "string"],
  2: ["type", "string"],
  3: ["idKeys", "string", true],
  4: ["descriptionKeys", "string", true],
};
const request: Schema = {
  1: ["resourceMetrics", {
    1: ["resource", {
      1: attributes,
      2: ["droppedAttributesCount", "uint32"],
      3: ["entityRefs", entityRef, true],
    }],
    2: ["scopeMetrics", {
      1: ["scope", {
        1: ["name", "string"],
        2: ["version", "string"],
        3: attributes,
        4: ["droppedAttributesCount", "uint32"],
      }],
      2: ["metrics", metric, true],
      3: ["schemaUrl", "string"],
    }, true],
    3: ["schemaUrl", "string"],
  }, true],
};

/** A protobuf message that does not parse. */
export class WireError extends Error {
  override name = "WireError";
}

const utf8 = new TextDecoder();

class Reader {
  pos = 0;
  /** Where reading must stop (the message, or a packed list, being read). */
  end: number;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  #need(n: number): void {
    if (this.pos + n > this.end) {
      throw new WireError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
    }
  }

  /** A varint of up to 64 bits, as a number (exact below 2^53). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      this.#need(1);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new WireError("invalid varint encoding");
  }

  /** A varint as a signed 64-bit decimal (int64). */
  int64(): string {
    const start = this.pos;
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      this.#need(1);
      const b = this.buf[this.pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, v).toString();
      shift += 7n;
    }
    this.pos = start;
    throw new WireError("invalid varint encoding");
  }

  fixed64(signed: boolean): string {
    this.#need(8);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    if (hi < 0x200000 && (!signed || hi < 0x80000000)) return String(hi * 4294967296 + lo);
    const v = (BigInt(hi) << 32n) | BigInt(lo);
    return (signed ? BigInt.asIntN(64, v) : v).toString();
  }

  double(): number {
    this.#need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The end of a length-delimited field starting here. */
  delimited(): number {
    const len = this.varint();
    this.#need(len);
    return this.pos + len;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) (this.#need(8), this.pos += 8);
    else if (wire === 2) this.pos = this.delimited();
    else if (wire === 5) (this.#need(4), this.pos += 4);
    else if (wire === 3) {
      // A group: skip to its end tag.
      for (;;) {
        const tag = this.varint();
        if ((tag & 7) === 4) return;
        this.skip(tag & 7);
      }
    } else throw new WireError(`invalid wire type ${wire} at offset ${this.pos}`);
  }
}

/** UTF-8 text: short ASCII built directly (most keys and values), the rest through TextDecoder. */
function text(buf: Uint8Array, from: number, to: number): string {
  if (to - from > 32) return utf8.decode(buf.subarray(from, to));
  let s = "";
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c >= 0x80) return utf8.decode(buf.subarray(from, to));
    s += String.fromCharCode(c);
  }
  return s;
}

/** One scalar of `type` at the reader's position (its wire type already checked). */
function scalar(r: Reader, type: Scalar): unknown {
  switch (type) {
    case "string": {
      const end = r.delimited();
      const s = text(r.buf, r.pos, end);
      r.pos = end;
      return s;
    }
    case "bytes": {
      const end = r.delimited();
      const b = r.buf.slice(r.pos, end);
      r.pos = end;
      return b;
    }
    case "double":
      return r.double();
    case "fixed64":
      return r.fixed64(false);
    case "sfixed64":
      return r.fixed64(true);
    case "int64":
      return r.int64();
    case "uint32":
      return r.varint() % 4294967296;
    case "enum":
      return r.varint() | 0;
    case "bool":
      return r.varint() !== 0;
  }
}

/** The wire type a scalar is written with. */
const WIRE: Record<Scalar, number> = {
  string: 2,
  bytes: 2,
  double: 1,
  fixed64: 1,
  sfixed64: 1,
  int64: 0,
  uint32: 0,
  enum: 0,
  bool: 0,
};

/** Each schema's repeated fields' names (every one is a list, empty when absent). */
const REPEATED = new Map<Schema, string[]>();

function message(r: Reader, schema: Schema, end: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let lists = REPEATED.get(schema);
  if (!lists) {
    REPEATED.set(
      schema,
      lists = Object.values(schema).filter((f) => f[2]).map((f) => f[0]),
    );
  }
  for (const name of lists) out[name] = [];
  while (r.pos < end) {
    const tag = r.varint();
    const wire = tag & 7;
    const field = schema[Math.floor(tag / 8)];
    if (!field) {
      r.skip(wire);
      continue;
    }
    const [name, type, repeated] = field;
    if (typeof type === "object") {
      if (wire !== 2) throw new WireError(`invalid wire type ${wire} for ${name}`);
      const stop = r.delimited();
      const value = message(r, type, stop);
      r.pos = stop;
      if (repeated) (out[name] as unknown[]).push(value);
      else out[name] = value;
    } else if (repeated && wire === 2 && WIRE[type] !== 2) {
      // Packed.
      const stop = r.delimited();
      const list = out[name] as unknown[];
      const outer = r.end;
      r.end = stop;
      while (r.pos < stop) list.push(scalar(r, type));
      r.end = outer;
    } else {
      if (wire !== WIRE[type]) throw new WireError(`invalid wire type ${wire} for ${name}`);
      const value = scalar(r, type);
      if (repeated) (out[name] as unknown[]).push(value);
      else out[name] = value;
    }
  }
  if (r.pos !== end) throw new WireError(`index out of range: ${r.pos} > ${end}`);
  return out;
}

/**
 * Decode an `ExportMetricsServiceRequest` to the plain object protobufjs'
 * `toObject` gives.
 *
 * @throws {WireError} when the bytes are not such a message.
 */
export function decodeMetricsRequest(bytes: Uint8Array): Record<string, unknown> {
  return message(new Reader(bytes), request, bytes.length);
}
