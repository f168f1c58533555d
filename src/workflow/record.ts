/**
 * The platform's workflow record ("WorkflowLog" with its "NodeLog"s, see
 * `reference/astron-facts.md`) and its validation. Validation checks the
 * types of the fields the store reads and leaves every other field alone, so
 * whatever the platform adds later is kept as it came.
 *
 * @module
 */

import { expected, isObject, ShapeError } from "../wire_shape.ts";

/** Token usage, on a run or in a node's `data.usage`. */
export interface Usage {
  question_tokens?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

/** One node log ("NodeLog"). Unknown fields are kept. */
export interface NodeLog {
  id: string;
  sid?: string;
  node_id?: string;
  node_type?: string;
  node_name?: string;
  next_log_ids?: string[];
  start_time?: number;
  end_time?: number;
  duration?: number;
  running_status?: boolean;
  data?: { input?: unknown; output?: unknown; config?: unknown; usage?: Usage };
  logs?: string[];
  [field: string]: unknown;
}

/** One workflow run ("WorkflowLog"). Unknown fields are kept. */
export interface WorkflowRecord {
  sid: string;
  app_id?: string;
  uid?: string;
  chat_id?: string;
  question?: string;
  answer?: string;
  start_time: number;
  end_time?: number;
  duration?: number;
  first_frame_duration?: number;
  status?: { code?: number; message?: string };
  usage?: Usage;
  version?: string;
  trace?: NodeLog[];
  [field: string]: unknown;
}

/**
 * A validation outcome: the typed record (with what was kept as given but
 * not indexed, in `warnings`), or the first problem with its path.
 */
export type ValidateRecordResult =
  | { ok: true; record: WorkflowRecord; warnings: string[] }
  | { ok: false; error: string };

/**
 * The largest magnitude an indexed number may have: every backend stores it
 * exactly and reads it back as a JavaScript number (2^53 - 1).
 */
export const INDEX_MAX = Number.MAX_SAFE_INTEGER;

/**
 * `v` as the store indexes it: rounded, and `undefined` when it is not a
 * finite number in `[min, INDEX_MAX]` (the record keeps the value as given).
 */
export function indexable(v: unknown, min = -INDEX_MAX): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v)) return undefined;
  const r = Math.round(v);
  return r >= min && r <= INDEX_MAX ? r : undefined;
}

/** Allowed `sid`s: the platform's ids (`spf00010001@hf1933ab...`), never a path. */
export const SID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;
/** Deepest nesting a record may have (objects and arrays). */
export const MAX_DEPTH = 64;

const USAGE_KEYS = ["question_tokens", "prompt_tokens", "completion_tokens", "total_tokens"];

function optString(o: Record<string, unknown>, key: string, path: string): void {
  const v = o[key];
  if (v !== undefined && v !== null && typeof v !== "string") {
    expected(`${path}${key}`, "a string", v);
  }
}

/** A point in time (epoch ms, not negative) or, with `span`, a duration (the platform writes -1 for "none"). */
function optTime(o: Record<string, unknown>, key: string, path: string, span = false): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number" || !Number.isFinite(v) || Math.abs(v) > 1e15 || (!span && v < 0)) {
    expected(`${path}${key}`, span ? "a number of milliseconds" : "epoch milliseconds", v);
  }
}

function optUsage(v: unknown, path: string, warnings: string[]): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) expected(path, "an object", v);
  for (const k of USAGE_KEYS) {
    const n = v[k];
    if (n === undefined || n === null) continue;
    if (typeof n !== "number" || !Number.isFinite(n)) expected(`${path}.${k}`, "a number", n);
    if (indexable(n, 0) === undefined) {
      warnings.push(
        `${path}.${k}: ${n} is outside 0..2^53-1; kept in the record, counted as 0 in usage`,
      );
    }
  }
}

/** Throw when `v` nests deeper than {@linkcode MAX_DEPTH} (recursion stops there, so it is bounded). */
function checkDepth(v: unknown, depth = 1): void {
  if (depth > MAX_DEPTH) throw new ShapeError(`record nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === "object" && x !== null) checkDepth(x, depth + 1);
    }
  } else {
    for (const k in v as Record<string, unknown>) {
      const x = (v as Record<string, unknown>)[k];
      if (typeof x === "object" && x !== null) checkDepth(x, depth + 1);
    }
  }
}

function validateNode(n: unknown, path: string, warnings: string[]): void {
  if (!isObject(n)) expected(path, "an object (a node log)", n);
  const p = `${path}.`;
  if (typeof n.id !== "string" || n.id === "" || n.id.length > 128) {
    expected(`${p}id`, "a non-empty string", n.id);
  }
  for (const k of ["sid", "node_id", "node_type", "node_name"]) optString(n, k, p);
  for (const k of ["start_time", "end_time"]) optTime(n, k, p);
  for (const k of ["duration", "first_frame_duration", "node_first_cost_time"]) {
    optTime(n, k, p, true);
  }
  const next = n.next_log_ids;
  if (next !== undefined && next !== null) {
    if (!Array.isArray(next)) expected(`${p}next_log_ids`, "a list of node ids", next);
    next.forEach((id, i) => {
      if (typeof id !== "string") expected(`${p}next_log_ids[${i}]`, "a string", id);
    });
  }
  if (n.running_status !== undefined && n.running_status !== null) {
    if (typeof n.running_status !== "boolean") {
      expected(`${p}running_status`, "true or false", n.running_status);
    }
  }
  if (n.logs !== undefined && n.logs !== null) {
    if (!Array.isArray(n.logs)) expected(`${p}logs`, "a list of strings", n.logs);
    n.logs.forEach((l, i) => {
      if (typeof l !== "string") expected(`${p}logs[${i}]`, "a string", l);
    });
  }
  if (n.data !== undefined && n.data !== null) {
    if (!isObject(n.data)) expected(`${p}data`, "an object", n.data);
    optUsage(n.data.usage, `${p}data.usage`, warnings);
  }
}

/**
 * Check one record's shape: `sid` (the platform's id, never a path),
 * `start_time` in epoch ms, the types of the fields the store indexes, each
 * node log of `trace`; no deeper than {@linkcode MAX_DEPTH} levels.
 *
 * @returns the record, typed, or the first problem naming its path
 *   (`trace[2].start_time: expected a number of milliseconds, got "soon"`).
 * @example
 * ```ts
 * const r = validateRecord(JSON.parse(line));
 * if (!r.ok) console.error(r.error);
 * ```
 */
export function validateRecord(value: unknown): ValidateRecordResult {
  const warnings: string[] = [];
  try {
    if (!isObject(value)) expected("record", "an object", value);
    checkDepth(value);
    if (typeof value.sid !== "string") expected("sid", "a string", value.sid);
    if (!SID_PATTERN.test(value.sid)) {
      expected("sid", "letters, digits and _.:@- (at most 128)", value.sid);
    }
    for (const k of ["app_id", "uid", "chat_id", "question", "answer", "version"]) {
      optString(value, k, "");
    }
    if (value.start_time === undefined) expected("start_time", "epoch milliseconds", undefined);
    for (const k of ["start_time", "end_time"]) optTime(value, k, "");
    for (const k of ["duration", "first_frame_duration"]) optTime(value, k, "", true);
    if (value.status !== undefined && value.status !== null) {
      if (!isObject(value.status)) expected("status", "an object {code, message}", value.status);
      const code = value.status.code;
      if (code !== undefined && code !== null && !Number.isInteger(code)) {
        expected("status.code", "an integer", code);
      }
      if (typeof code === "number" && indexable(code) === undefined) {
        warnings.push(
          `status.code: ${code} is outside ±(2^53-1); kept in the record, indexed as ${
            code > 0 ? "" : "-"
          }2^53-1`,
        );
      }
      optString(value.status, "message", "status.");
    }
    optUsage(value.usage, "usage", warnings);
    const trace = value.trace;
    if (trace !== undefined && trace !== null) {
      if (!Array.isArray(trace)) expected("trace", "a list of node logs", trace);
      trace.forEach((n, i) => validateNode(n, `trace[${i}]`, warnings));
    }
    return { ok: true, record: value as WorkflowRecord, warnings };
  } catch (err) {
    if (err instanceof ShapeError) return { ok: false, error: err.message };
    throw err;
  }
}
