/**
 * Checking the shape of decoded input (a workflow record, an OTLP request)
 * with errors that name the path and what came instead:
 * `trace[2].start_time: expected epoch milliseconds, got "soon"`.
 *
 * @module
 */

/** A value of the wrong shape; the message names its path. */
export class ShapeError extends Error {
  override name = "ShapeError";
}

/** Throw a {@linkcode ShapeError}: `${path}: expected ${what}, got ${describe(got)}`. */
export function expected(path: string, what: string, got: unknown): never {
  throw new ShapeError(`${path}: expected ${what}, got ${describe(got)}`);
}

/** A short description of `v` for a message (strings quoted and cut at 40 characters). */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  return String(v);
}

/** True for a plain object (not null, not a list). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
