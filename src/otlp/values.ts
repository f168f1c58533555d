/**
 * Readers of the values every OTLP signal shares, from either encoding: the
 * objects the generated protobuf code gives (`toObject` with longs as
 * strings) and OTLP JSON (ids as hex, 64-bit integers as strings or
 * numbers). Each reader takes the value and its path, and throws a
 * {@linkcode ShapeError} naming the path when the value is of the wrong
 * shape; the signal decoders decide whether that refuses one item or the
 * whole request.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { expected, isObject, ShapeError } from "../wire_shape.ts";
import { errorMessage } from "../errors.ts";

/** A request that cannot be read at all (the whole request is refused: 400 / INVALID_ARGUMENT). */
export class OtlpError extends Error {
  override name = "OtlpError";
}

/** Options for the generated code's `toObject`: 64-bit integers as decimal strings, enums as numbers. */
export const TO_OBJECT = { longs: String, enums: Number, arrays: true, defaults: false } as const;

/** A nested message: `{}` when absent. */
export function obj(v: unknown, path: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObject(v) || v instanceof Uint8Array) expected(path, "an object", v);
  return v;
}

/** A repeated field: `[]` when absent. */
export function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) expected(path, "a list", v);
  return v;
}

/** A string field: `""` when absent. */
export function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") expected(path, "a string", v);
  return v;
}

/** A 32-bit integer or enum field (JSON may carry it as a decimal string): 0 when absent. */
export function int(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) expected(path, "an integer", v);
  return n;
}

/** The largest value of OTLP's `fixed64` times. */
const NANOS_MAX = 2n ** 64n - 1n;

/**
 * A 64-bit unsigned nanosecond count as a decimal string ("0" when absent).
 *
 * @throws {OtlpError} for a count past 2^64-1: the request is not one any
 *   OTLP encoding can carry, so it is refused whole (protobuf cannot get here).
 */
export function nanos(v: unknown, path: string): string {
  if (v === undefined || v === null) return "0";
  let n: bigint | undefined;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) n = BigInt(v);
  else if (typeof v === "string" && /^\d{1,20}$/.test(v)) n = BigInt(v);
  if (n === undefined) throw new ShapeError(`${path}: expected nanoseconds since the epoch`);
  if (n > NANOS_MAX) {
    const shown = typeof v === "string" ? JSON.stringify(v) : String(v);
    throw new OtlpError(`${path}: ${shown} is past 2^64-1 nanoseconds`);
  }
  return n.toString();
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/**
 * An id (trace or span) as lowercase hex: from bytes, hex text, or base64
 * text. With `optional`, an absent or empty id is `""`; an all-zero id is
 * never valid.
 */
export function id(v: unknown, bytes: number, path: string, optional = false): string {
  if (v === undefined || v === null || v === "" || (v instanceof Uint8Array && !v.length)) {
    if (optional) return "";
    throw new ShapeError(`${path}: missing`);
  }
  let hex: string | undefined;
  if (v instanceof Uint8Array) hex = toHex(v);
  else if (typeof v === "string" && /^[0-9a-fA-F]+$/.test(v) && v.length === bytes * 2) {
    hex = v.toLowerCase();
  } else if (typeof v === "string") {
    try {
      hex = Array.from(atob(v), (c) => HEX[c.charCodeAt(0)]).join("");
    } catch {
      hex = undefined;
    }
  }
  if (!hex || hex.length !== bytes * 2 || /^0+$/.test(hex)) {
    throw new ShapeError(`${path}: expected ${bytes} bytes as hex`);
  }
  return hex;
}

/** An `AnyValue` as a plain value: strings, booleans, numbers, lists, objects; bytes as base64. */
export function anyValue(v: unknown, path: string, depth = 0): unknown {
  if (depth > 16) throw new ShapeError(`${path}: nested too deep`);
  const o = obj(v, path);
  if ("stringValue" in o) return str(o.stringValue, `${path}.stringValue`);
  if ("boolValue" in o) return o.boolValue === true;
  if ("intValue" in o) {
    const n = o.intValue;
    if (typeof n === "number" && Number.isInteger(n)) return n;
    if (typeof n === "string" && /^-?\d{1,20}$/.test(n)) {
      return Number.isSafeInteger(Number(n)) ? Number(n) : n;
    }
    throw new ShapeError(`${path}.intValue: expected an integer`);
  }
  if ("doubleValue" in o) {
    const d = typeof o.doubleValue === "string" ? Number(o.doubleValue) : o.doubleValue;
    if (typeof d !== "number") throw new ShapeError(`${path}.doubleValue: expected a number`);
    return Number.isFinite(d) ? d : String(d);
  }
  if ("arrayValue" in o) {
    const a = obj(o.arrayValue, `${path}.arrayValue`);
    return list(a.values, `${path}.arrayValue.values`)
      .map((x, i) => anyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1));
  }
  if ("kvlistValue" in o) {
    const kv = obj(o.kvlistValue, `${path}.kvlistValue`);
    return attributes(kv.values, `${path}.kvlistValue.values`, depth + 1);
  }
  if ("bytesValue" in o) {
    const b = o.bytesValue;
    if (b instanceof Uint8Array) {
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
    }
    return str(b, `${path}.bytesValue`);
  }
  return null;
}

/** A `KeyValue` list as an object (a key given twice: the last wins). */
export function attributes(v: unknown, path: string, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  list(v, path).forEach((kv, i) => {
    const p = `${path}[${i}]`;
    const o = obj(kv, p);
    out[str(o.key, `${p}.key`)] = anyValue(o.value, `${p}.value`, depth);
  });
  return out;
}

/** An `InstrumentationScope` as `{ name, version }`. */
export function scopeOf(v: unknown, path: string): { name: string; version: string } {
  const sc = obj(v, path);
  return { name: str(sc.name, `${path}.name`), version: str(sc.version, `${path}.version`) };
}

/**
 * Run `read` for a part of the request whose failure refuses the whole
 * request: a {@linkcode ShapeError} becomes an {@linkcode OtlpError}.
 */
export function whole<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ShapeError) throw new OtlpError(err.message);
    throw err;
  }
}

/** Items refused from a request: how many, and the first reason (naming its path). */
export class Refusals {
  rejected = 0;
  error?: string;

  /** Count `n` refused items; the first message is kept. */
  add(n: number, message: string): void {
    if (n <= 0) return;
    this.rejected += n;
    this.error ??= message;
  }

  /** Count one item refused by `err` at `path` (a {@linkcode ShapeError} names its own path). */
  addError(err: unknown, path: string, n = 1): void {
    this.add(n, err instanceof ShapeError ? err.message : `${path}: ${errorMessage(err)}`);
  }
}

/** The field names of one signal's nesting: `resourceSpans[].scopeSpans[].spans[]`. */
export interface Nesting {
  resource: string;
  scope: string;
  items: string;
}

/** Where an item sits: its resource's attributes and its scope. */
export interface ItemContext {
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
}

/**
 * Visit every item of an export request (`resourceX[].scopeX[].items[]`).
 * The nesting itself must be well formed, else the whole request is refused
 * ({@linkcode OtlpError}); an item whose `visit` throws is refused alone and
 * counted in `refusals` (an {@linkcode OtlpError} from `visit` still refuses
 * the request: a value no OTLP message can carry).
 */
export function eachItem(
  body: unknown,
  names: Nesting,
  refusals: Refusals,
  visit: (item: unknown, path: string, context: ItemContext) => void,
): void {
  const resources = whole(() => list(obj(body, "body")[names.resource], names.resource));
  resources.forEach((rValue, r) => {
    const rp = `${names.resource}[${r}]`;
    const { resource, scopes } = whole(() => {
      const ro = obj(rValue, rp);
      return {
        resource: attributes(
          obj(ro.resource, `${rp}.resource`).attributes,
          `${rp}.resource.attributes`,
        ),
        scopes: list(ro[names.scope], `${rp}.${names.scope}`),
      };
    });
    scopes.forEach((sValue, s) => {
      const sp = `${rp}.${names.scope}[${s}]`;
      const { scope, items } = whole(() => {
        const so = obj(sValue, sp);
        return {
          scope: scopeOf(so.scope, `${sp}.scope`),
          items: list(so[names.items], `${sp}.${names.items}`),
        };
      });
      items.forEach((item, i) => {
        const p = `${sp}.${names.items}[${i}]`;
        try {
          visit(item, p, { resource, scope });
        } catch (err) {
          if (err instanceof OtlpError) throw err;
          refusals.addError(err, p);
        }
      });
    });
  });
}
