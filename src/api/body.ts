/**
 * Request bodies for the write routes: the bytes, gunzipped when sent with
 * `Content-Encoding: gzip` under a limit on the inflated size, and read as
 * UTF-8 text or JSON, each refusal an `HTTPException` (400, 413, 415) that
 * names what is wrong.
 *
 * @module
 */

import { HTTPException } from "hono/http-exception";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A 400 answer with `message`. */
export function bad(message: string): HTTPException {
  return new HTTPException(400, { message });
}

/** Compressed bytes handed to the inflater at a time: deflate expands at most ~1032x. */
const INFLATE_STEP = 16 * 1024;

/**
 * The request body as bytes, gunzipped when `Content-Encoding: gzip`. The
 * limit holds for the inflated bytes: the body is inflated a small slice at
 * a time and abandoned (413) as soon as the output passes `limit`, so a gzip
 * bomb costs at most `limit` plus one slice's output.
 *
 * The bytes as sent are held to the same limit while they are read (a
 * `Content-Length` over it is refused before reading).
 *
 * @param limitName the setting that holds `limit`, named in the 413 message.
 * @throws {HTTPException} 413 past the limit, 415 for another encoding, 400 for broken gzip.
 */
export async function bodyBytes(
  req: Request,
  limit: number,
  limitName = "server.max_body",
): Promise<Uint8Array> {
  const raw = await rawBytes(req, limit, limitName);
  const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding === "identity" || encoding === "") return raw;
  if (encoding !== "gzip") {
    throw new HTTPException(415, {
      message: `Content-Encoding: ${encoding} is not supported (gzip is)`,
    });
  }
  const inflater = new DecompressionStream("gzip");
  const writer = inflater.writable.getWriter();
  const reader = inflater.readable.getReader();
  const feed = (async () => {
    for (let off = 0; off < raw.length; off += INFLATE_STEP) {
      await writer.write(raw.subarray(off, off + INFLATE_STEP));
    }
    await writer.close();
  })();
  feed.catch(() => {}); // its failure surfaces on the reader
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        throw new HTTPException(413, {
          message: `request body over ${limit} bytes after gzip decoding (${limitName})`,
        });
      }
      parts.push(value);
    }
    await feed;
  } catch (err) {
    await reader.cancel().catch(() => {});
    await writer.abort().catch(() => {});
    if (err instanceof HTTPException) throw err;
    throw bad("body: not valid gzip");
  }
  return concat(parts, total);
}

/** The body as sent, read until it passes `limit` (then 413). */
async function rawBytes(
  req: Request,
  limit: number,
  limitName: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () =>
    new HTTPException(413, { message: `request body over ${limit} bytes (${limitName})` });
  const length = Number(req.headers.get("content-length") ?? NaN);
  if (length > limit) throw tooLarge();
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value as Uint8Array<ArrayBuffer>);
  }
  return parts.length === 1 ? parts[0] : concat(parts, total);
}

/**
 * The bytes as UTF-8 text.
 *
 * @throws {HTTPException} 400 when they are not valid UTF-8.
 */
export function bodyText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw bad("body: not valid UTF-8");
  }
}

/** A JSON parse error's message, short, for a 400 answer. */
export function jsonError(err: unknown): string {
  return (err as Error).message.replace(/^JSON\.parse: /, "").slice(0, 200);
}

/** `parts` joined into one array of `total` bytes. */
function concat(parts: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
