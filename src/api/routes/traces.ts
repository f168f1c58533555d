/**
 * The trace routes (SPEC §6): workflow records in (`POST /api/v1/traces`:
 * one record, an array, or NDJSON), OTLP/HTTP spans in (`POST /v1/traces`,
 * served by the OTLP routes of `otlp.ts`), and the queries out (`GET
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
import { bad, bodyBytes, bodyText, jsonError } from "../body.ts";
import {
  type IngestResult,
  type Store,
  StoreFullError,
  StoreUnavailableError,
} from "../../store/store.ts";
import { NODE_PAGE } from "../../store/query.ts";
import { parseListQuery, parseUsageQuery } from "../../store/filters.ts";
import { SID_PATTERN } from "../../workflow/record.ts";
import { isBlobHash } from "../../store/blobs.ts";
import { OtlpIntake } from "../../otlp/intake.ts";
import { otlpRoutes } from "./otlp.ts";
import { serviceLogLines } from "../../service_logs/by_sid.ts";

/** What the trace routes need. */
export interface TraceRoutesDeps {
  store: Store;
  /** Largest body after gzip decoding, in bytes, read per request (`server.max_body`). */
  maxDecodedBody: () => number;
  /** Most records one request may carry (default 10,000). */
  maxRecords?: number;
  /** Where `POST /v1/traces` hands its spans (counted); default: one straight to `store`. */
  intake?: OtlpIntake;
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

/** Store errors as HTTP answers: 503 while it cannot be used, 507 while its disk is full. */
function unavailable(err: unknown): never {
  if (err instanceof StoreUnavailableError) {
    throw new HTTPException(503, {
      message: `the trace store is not available: ${err.message}`,
      res: new Response(null, { headers: { "Retry-After": "5" } }),
    });
  }
  if (err instanceof StoreFullError) {
    throw new HTTPException(507, {
      message: err.message,
      res: new Response(null, { headers: { "Retry-After": "30" } }),
    });
  }
  throw err;
}

/** Media types `POST /api/v1/traces` reads: JSON and its line-delimited forms. */
const RECORD_TYPES =
  /^(application\/(json|x-ndjson|ndjson|jsonl|x-jsonlines|json-seq)|text\/x-ndjson)$/;

/** An integer query parameter in `[min, max]`, or `fallback` when absent. */
function intParam(
  text: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined || text === "") return fallback;
  const v = Number(text);
  if (!/^\d+$/.test(text) || v < min || v > max) {
    throw bad(
      `${name}: expected an integer from ${min} to ${max}, got ${
        JSON.stringify(text.slice(0, 40))
      }`,
    );
  }
  return v;
}

/** The trace routes. */
export function traceRoutes(deps: TraceRoutesDeps): Hono<ApiEnv> {
  const { store } = deps;
  const maxRecords = deps.maxRecords ?? 10_000;
  const app = new Hono<ApiEnv>();

  app.post("/api/v1/traces", async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type && !RECORD_TYPES.test(type)) {
      throw new HTTPException(415, {
        message: `Content-Type ${
          JSON.stringify(type.slice(0, 80))
        }: workflow records are application/json or application/x-ndjson`,
      });
    }
    const text = bodyText(await bodyBytes(c.req.raw, deps.maxDecodedBody()));
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

  app.route(
    "/",
    otlpRoutes({
      intake: deps.intake ?? new OtlpIntake({ store }),
      transport: "api",
      maxBody: deps.maxDecodedBody,
      maxBodyName: "server.max_body",
      signals: ["traces"],
    }),
  );

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
    const offset = intParam(
      c.req.query("node_offset"),
      "node_offset",
      0,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    const limit = intParam(
      c.req.query("node_limit"),
      "node_limit",
      NODE_PAGE.default,
      1,
      NODE_PAGE.max,
    );
    const run = await store.getRun(sid, {
      expandBlobs: blobs === "inline",
      nodes: { offset, limit },
    }).catch(unavailable);
    if (!run) throw new HTTPException(404, { message: `no run with sid ${JSON.stringify(sid)}` });
    // The platform's service log lines that name this run (service_logs:), oldest first.
    return c.json({ ...run, service_log_lines: await serviceLogLines(store, sid) });
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
