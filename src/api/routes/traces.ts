/**
 * The trace routes (SPEC §6): workflow records in (`POST /api/v1/traces`:
 * one record, an array, or NDJSON), OTLP/HTTP spans in (`POST /v1/traces`:
 * protobuf or JSON, optionally gzip), and the queries out (`GET
 * /api/v1/traces`, `/api/v1/traces/{sid}`, `/api/v1/stats/usage`,
 * `/api/v1/blobs/{sha256}`).
 *
 * Every refusal is an `HTTPException` with the field named; the app's
 * `onError` renders it as `{ "error": { "code", "message" } }`.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../env.ts";
import { type IngestResult, type Store, StoreUnavailableError } from "../../store/store.ts";
import { parseListQuery, parseUsageQuery } from "../../store/filters.ts";
import { SID_PATTERN } from "../../store/workflow.ts";
import { isBlobHash } from "../../store/blobs.ts";
import {
  decodeJson,
  decodeProtobuf,
  encodeProtobufResponse,
  jsonResponse,
  OtlpError,
} from "../../store/otlp.ts";

/** What the trace routes need. */
export interface TraceRoutesDeps {
  store: Store;
  /** Largest body after gzip decoding, in bytes (default 64 MiB). */
  maxDecodedBody?: number;
  /** Most records one request may carry (default 10,000). */
  maxRecords?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function bad(message: string): HTTPException {
  return new HTTPException(400, { message });
}

/** The request body as bytes, gunzipped when `Content-Encoding: gzip`, within `limit` bytes. */
async function bodyBytes(req: Request, limit: number): Promise<Uint8Array> {
  const raw = new Uint8Array(await req.arrayBuffer());
  const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding === "identity" || encoding === "") return raw;
  if (encoding !== "gzip") {
    throw new HTTPException(415, {
      message: `Content-Encoding: ${encoding} is not supported (gzip is)`,
    });
  }
  const reader = new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw new HTTPException(413, {
          message: `request body over ${limit} bytes after gzip decoding`,
        });
      }
      parts.push(value);
    }
  } catch (err) {
    if (err instanceof HTTPException) throw err;
    throw bad("body: not valid gzip");
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function bodyText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw bad("body: not valid UTF-8");
  }
}

function jsonError(err: unknown): string {
  return (err as Error).message.replace(/^JSON\.parse: /, "").slice(0, 200);
}

/** Workflow records from a body: one object, an array, or NDJSON (one per line). */
function records(
  text: string,
  contentType: string,
): { values: unknown[]; lineErrors: Map<number, string> } {
  const lineErrors = new Map<number, string>();
  const ndjson = /ndjson|jsonl|json-seq/i.test(contentType);
  if (!ndjson) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      // Several lines that each parse are NDJSON whatever the header says.
      const first = text.trimStart().split("\n", 1)[0];
      let firstParses = false;
      try {
        JSON.parse(first);
        firstParses = text.trim().includes("\n");
      } catch {
        firstParses = false;
      }
      if (!firstParses) throw bad(`body: invalid JSON (${jsonError(err)})`);
      return records(text, "application/x-ndjson");
    }
    if (Array.isArray(value)) return { values: value, lineErrors };
    if (typeof value === "object" && value !== null) return { values: [value], lineErrors };
    throw bad("body: expected a workflow record (an object), an array of them, or NDJSON");
  }
  const values: unknown[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      values.push(JSON.parse(line));
    } catch (err) {
      lineErrors.set(values.length, `invalid JSON (${jsonError(err)})`);
      values.push(undefined);
    }
  }
  return { values, lineErrors };
}

function unavailable(err: unknown): never {
  if (err instanceof StoreUnavailableError) {
    throw new HTTPException(503, { message: "the trace store is not available" });
  }
  throw err;
}

/** The trace routes. */
export function traceRoutes(deps: TraceRoutesDeps): Hono<ApiEnv> {
  const { store } = deps;
  const maxDecoded = deps.maxDecodedBody ?? 64 * 1024 * 1024;
  const maxRecords = deps.maxRecords ?? 10_000;
  const app = new Hono<ApiEnv>();

  app.post("/api/v1/traces", async (c) => {
    const text = bodyText(await bodyBytes(c.req.raw, maxDecoded));
    if (!text.trim()) throw bad("body: empty");
    const { values, lineErrors } = records(text, c.req.header("content-type") ?? "");
    if (!values.length) throw bad("body: no records");
    if (values.length > maxRecords) {
      throw new HTTPException(413, { message: `more than ${maxRecords} records in one request` });
    }
    // Lines that did not parse are refused by index; the rest are validated one by one.
    const result: IngestResult = await store.ingestRuns(
      values.map((v, i) => lineErrors.has(i) ? null : v),
    ).catch(unavailable);
    for (const e of result.errors) {
      const line = lineErrors.get(e.index);
      if (line) e.error = line;
    }
    if (result.accepted === 0) {
      const first = result.errors[0];
      const where = values.length === 1 ? "" : `record ${first.index}: `;
      const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : "";
      throw bad(`${where}${first.error}${more}`);
    }
    return c.json(result, 202);
  });

  app.post("/v1/traces", async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const isProto = type === "application/x-protobuf" || type === "application/protobuf";
    if (!isProto && type !== "application/json") {
      throw new HTTPException(415, {
        message: `Content-Type ${
          JSON.stringify(type)
        }: OTLP/HTTP takes application/x-protobuf or application/json`,
      });
    }
    const bytes = await bodyBytes(c.req.raw, maxDecoded);
    const now = Date.now();
    let decoded;
    try {
      if (isProto) {
        decoded = decodeProtobuf(bytes, now);
      } else {
        let value: unknown;
        try {
          value = JSON.parse(bodyText(bytes));
        } catch (err) {
          if (err instanceof HTTPException) throw err;
          throw bad(`body: invalid JSON (${jsonError(err)})`);
        }
        decoded = decodeJson(value, now);
      }
    } catch (err) {
      if (err instanceof OtlpError) throw bad(err.message);
      throw err;
    }
    await store.ingestSpans(decoded.rows).catch(unavailable);
    if (isProto) {
      return c.body(encodeProtobufResponse(decoded.rejected, decoded.error), 200, {
        "Content-Type": "application/x-protobuf",
      });
    }
    return c.json(jsonResponse(decoded.rejected, decoded.error), 200);
  });

  app.get("/api/v1/traces", async (c) => {
    const parsed = parseListQuery(c.req.query(), Date.now());
    if (!parsed.ok) throw bad(parsed.error);
    return c.json(await store.listRuns(parsed.value).catch(unavailable));
  });

  app.get("/api/v1/traces/:sid", async (c) => {
    const sid = c.req.param("sid");
    if (!SID_PATTERN.test(sid)) throw bad(`sid: ${JSON.stringify(sid.slice(0, 60))} is not a sid`);
    const blobs = c.req.query("blobs");
    if (blobs !== undefined && blobs !== "link" && blobs !== "inline") {
      throw bad(`blobs: ${JSON.stringify(blobs.slice(0, 60))} is not "link" or "inline"`);
    }
    const run = await store.getRun(sid, { expandBlobs: blobs === "inline" }).catch(unavailable);
    if (!run) throw new HTTPException(404, { message: `no run with sid ${JSON.stringify(sid)}` });
    return c.json(run);
  });

  app.get("/api/v1/blobs/:hash", async (c) => {
    const hash = c.req.param("hash");
    if (!isBlobHash(hash)) throw bad("hash: expected 64 lowercase hex digits");
    const text = await store.readBlob(hash).catch(unavailable);
    if (text === undefined) throw new HTTPException(404, { message: `no blob ${hash}` });
    return c.text(text);
  });

  app.get("/api/v1/stats/usage", async (c) => {
    const parsed = parseUsageQuery(c.req.query(), Date.now());
    if (!parsed.ok) throw bad(parsed.error);
    return c.json(await store.usage(parsed.value).catch(unavailable));
  });

  return app;
}
