/**
 * The platform's workflow record ("WorkflowLog" with its "NodeLog"s, see
 * `reference/astron-facts.md`) and its validation. A record is refused only
 * when it cannot be identified (no valid `sid`) or stored safely (not an
 * object, nested past {@linkcode MAX_DEPTH}); any other surprise in a field
 * the store reads is kept as given, indexed as a default, and named in a
 * warning. Every field the store does not read is kept as it came.
 *
 * Shapes the platform's own code writes are not surprises: a node's
 * `duration` as `[0]` (its `NodeLog` default, a tuple, for a node that never
 * ended), a float `first_frame_duration` of `-1.0`, extra fields such as
 * `flow_id` and `bot_id`, OSS links in place of large strings.
 *
 * @module
 */

import { describe, expected, isObject, ShapeError } from "../wire_shape.ts";

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
  /** Milliseconds; `[0]` (a one-element list) for a node that never ended. */
  duration?: number | number[];
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

/** Collects what is kept as given but not indexed as sent. */
class Surprises {
  readonly list: string[] = [];

  /** Note `path: expected WHAT, got V; kept as given`. */
  add(path: string, what: string, got: unknown): void {
    this.list.push(`${path}: expected ${what}, got ${describe(got)}; kept as given`);
  }

  string(o: Record<string, unknown>, key: string, path: string): void {
    const v = o[key];
    if (v !== undefined && v !== null && typeof v !== "string") this.add(path + key, "a string", v);
  }

  /** A point in time (epoch ms, not negative) or, with `span`, a duration (-1 means "none"). */
  time(o: Record<string, unknown>, key: string, path: string, span = false): void {
    const v = spanValue(o[key]);
    if (v === undefined || v === null) return;
    if (typeof v !== "number" || !Number.isFinite(v) || Math.abs(v) > 1e15 || (!span && v < 0)) {
      this.add(path + key, span ? "a number of milliseconds" : "epoch milliseconds", o[key]);
    }
  }

  usage(v: unknown, path: string): void {
    if (v === undefined || v === null) return;
    if (!isObject(v)) return this.add(path, "an object", v);
    for (const k of USAGE_KEYS) {
      const n = v[k];
      if (n === undefined || n === null) continue;
      if (typeof n !== "number" || !Number.isFinite(n)) this.add(`${path}.${k}`, "a number", n);
      else if (indexable(n, 0) === undefined) {
        this.list.push(
          `${path}.${k}: ${n} is outside 0..2^53-1; kept in the record, counted as 0 in usage`,
        );
      }
    }
  }

  strings(v: unknown, path: string, what: string): void {
    if (v === undefined || v === null) return;
    if (!Array.isArray(v)) return this.add(path, what, v);
    v.forEach((x, i) => {
      if (typeof x !== "string") this.add(`${path}[${i}]`, "a string", x);
    });
  }
}

/**
 * A duration as the platform writes it: a number, or the one-element list
 * `NodeLog` defaults to (`(0,)` in Python). Anything else comes back as is.
 */
export function spanValue(v: unknown): unknown {
  return Array.isArray(v) && v.length === 1 && typeof v[0] === "number" ? v[0] : v;
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

function inspectNode(n: unknown, path: string, s: Surprises): void {
  if (!isObject(n)) return s.add(path, "an object (a node log)", n);
  const p = `${path}.`;
  if (typeof n.id !== "string" || n.id === "" || n.id.length > 128) {
    s.add(`${p}id`, "a non-empty string of at most 128 characters", n.id);
  }
  for (const k of ["sid", "node_id", "node_type", "node_name"]) s.string(n, k, p);
  for (const k of ["start_time", "end_time"]) s.time(n, k, p);
  for (const k of ["duration", "first_frame_duration", "node_first_cost_time"]) {
    s.time(n, k, p, true);
  }
  s.strings(n.next_log_ids, `${p}next_log_ids`, "a list of node ids");
  if (n.running_status !== undefined && n.running_status !== null) {
    if (typeof n.running_status !== "boolean") {
      s.add(`${p}running_status`, "true or false", n.running_status);
    }
  }
  s.strings(n.logs, `${p}logs`, "a list of strings");
  if (n.data !== undefined && n.data !== null) {
    if (!isObject(n.data)) s.add(`${p}data`, "an object", n.data);
    else s.usage(n.data.usage, `${p}data.usage`);
  }
}

/**
 * Check one record: refused only without a valid `sid` (the platform's id,
 * never a path), when it is not an object, or when it nests deeper than
 * {@linkcode MAX_DEPTH} levels. Surprises in the fields the store reads are
 * kept as given and named in `warnings`
 * (`trace[2].start_time: expected epoch milliseconds, got "soon"; kept as given`).
 *
 * @returns the record, typed, with its warnings; or why it is refused.
 * @example
 * ```ts
 * import { validateRecord } from "./record.ts";
 * const r = validateRecord(JSON.parse('{"sid":"spf1@hf1","start_time":1}'));
 * if (!r.ok) console.error(r.error);
 * ```
 */
export function validateRecord(value: unknown): ValidateRecordResult {
  const s = new Surprises();
  try {
    if (!isObject(value)) expected("record", "an object", value);
    checkDepth(value);
    if (typeof value.sid !== "string") expected("sid", "a string", value.sid);
    if (!SID_PATTERN.test(value.sid)) {
      expected("sid", "letters, digits and _.:@- (at most 128)", value.sid);
    }
  } catch (err) {
    if (err instanceof ShapeError) return { ok: false, error: err.message };
    throw err;
  }
  for (const k of ["app_id", "uid", "chat_id", "question", "answer", "version"]) {
    s.string(value, k, "");
  }
  if (value.start_time === undefined) s.add("start_time", "epoch milliseconds", undefined);
  for (const k of ["start_time", "end_time"]) s.time(value, k, "");
  for (const k of ["duration", "first_frame_duration"]) s.time(value, k, "", true);
  if (value.status !== undefined && value.status !== null) {
    if (!isObject(value.status)) s.add("status", "an object {code, message}", value.status);
    else {
      const code = value.status.code;
      if (code !== undefined && code !== null && !Number.isInteger(code)) {
        s.add("status.code", "an integer", code);
      } else if (typeof code === "number" && indexable(code) === undefined) {
        s.list.push(
          `status.code: ${code} is outside ±(2^53-1); kept in the record, indexed as ${
            code > 0 ? "" : "-"
          }2^53-1`,
        );
      }
      s.string(value.status, "message", "status.");
    }
  }
  s.usage(value.usage, "usage");
  const trace = value.trace;
  if (trace !== undefined && trace !== null) {
    if (!Array.isArray(trace)) s.add("trace", "a list of node logs", trace);
    else trace.forEach((n, i) => inspectNode(n, `trace[${i}]`, s));
  }
  return { ok: true, record: value as WorkflowRecord, warnings: s.list };
}
