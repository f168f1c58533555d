/**
 * From a validated workflow record to table rows, and back. The run row
 * keeps the record without `trace`; each node log is its own row holding its
 * JSON, so a run reads back field for field.
 *
 * @module
 */

import type { NodesTable, RunsTable } from "./schema.ts";
import {
  INDEX_MAX,
  indexable,
  type NodeLog,
  spanValue,
  type Usage,
  type WorkflowRecord,
} from "../workflow/record.ts";
import { isObject } from "../wire_shape.ts";
import { hasErrorLog } from "./search.ts";

/** The rows one run becomes. */
export interface RunRows {
  run: RunsTable;
  nodes: NodesTable[];
}

// A record's fields may hold anything (validation keeps surprises as given):
// what is indexed is read defensively, with defaults.
const num = (v: unknown, fallback = 0): number => indexable(spanValue(v)) ?? fallback;
/** A string field as indexed: "" unless it is a string; NUL removed. */
const text = (v: unknown): string => typeof v === "string" ? noNul(v) : "";
/** A token count as indexed: out of `0..2^53-1` counts as 0 (the record keeps it). */
const tokens = (v: unknown): number => indexable(v, 0) ?? 0;

/** `text` without NUL characters (PostgreSQL's `text` cannot hold them). */
export function noNul(text: string): string {
  return text.includes("\0") ? text.replaceAll("\0", "") : text;
}

/** A node's type: `node_type`, else the family before `:` in `node_id` (`llm::abc` -> `llm`). */
export function nodeType(n: NodeLog): string {
  if (typeof n.node_type === "string" && n.node_type) return noNul(n.node_type);
  return text(n.node_id).split(":")[0];
}

function usageOf(value: unknown): Required<Usage> {
  const u = isObject(value) ? value as Usage : undefined;
  return {
    question_tokens: tokens(u?.question_tokens),
    prompt_tokens: tokens(u?.prompt_tokens),
    completion_tokens: tokens(u?.completion_tokens),
    total_tokens: tokens(u?.total_tokens),
  };
}

/**
 * The rows of `record` (already validated, large strings already offloaded).
 *
 * Run usage is the record's `usage`, else the sum of its nodes' (the
 * platform's rule); first-frame duration is the record's, else the start of
 * the first `message`/`node-end` node minus the run's start.
 */
export function toRows(record: WorkflowRecord, now: number): RunRows {
  const trace = record.trace;
  // The run row keeps the record's keys in their order, with `trace` emptied:
  // the nodes live in their own rows and are put back on reading.
  const rest: Record<string, unknown> = { ...record };
  if (Array.isArray(trace)) rest.trace = [];
  const list: unknown[] = Array.isArray(trace) ? trace : [];
  const nodes: NodesTable[] = list.map((value, idx) => {
    const n = (isObject(value) ? value : {}) as NodeLog;
    const usage = usageOf(isObject(n.data) ? n.data.usage : undefined);
    const start = num(n.start_time);
    const end = num(n.end_time, start + num(n.duration));
    return {
      sid: record.sid,
      idx,
      id: text(n.id),
      node_id: text(n.node_id),
      node_type: nodeType(n),
      start_time: start,
      end_time: end,
      duration: num(n.duration, end - start),
      ok: n.running_status === false ? 0 : 1,
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
      ord: idx,
      record: JSON.stringify(value),
    };
  });
  // Execution order is decided once, here, so a run reads back page by page.
  const order = executionOrder(nodes, (x) => {
    const next = (list[x.idx] as NodeLog | undefined)?.next_log_ids;
    return Array.isArray(next) ? next.filter((id) => typeof id === "string") : [];
  });
  order.forEach((x, position) => x.ord = position);
  let usage = usageOf(record.usage);
  if (!record.usage) {
    usage = nodes.reduce((sum, n) => ({
      question_tokens: sum.question_tokens,
      prompt_tokens: Math.min(INDEX_MAX, sum.prompt_tokens + n.prompt_tokens),
      completion_tokens: Math.min(INDEX_MAX, sum.completion_tokens + n.completion_tokens),
      total_tokens: Math.min(INDEX_MAX, sum.total_tokens + n.total_tokens),
    }), usage);
  }
  // A run without a usable start time is placed when it was received, so it
  // lists with today's runs and retention treats it as new.
  const start = indexable(record.start_time, 0) ?? now;
  const end = num(record.end_time, start + num(record.duration));
  const code = isObject(record.status) ? record.status.code : undefined;
  // An out-of-range code stays an error code: indexed as the nearest in range.
  const statusCode = typeof code === "number" && Number.isFinite(code)
    ? Math.max(-INDEX_MAX, Math.min(INDEX_MAX, Math.round(code)))
    : 0;
  const json = JSON.stringify(rest);
  let firstFrame = num(record.first_frame_duration, -1);
  if (firstFrame < 0) {
    const first = nodes
      .filter((n) => n.node_type === "message" || n.node_type === "node-end")
      .sort((a, b) => a.start_time - b.start_time)[0];
    firstFrame = first ? Math.max(0, first.start_time - start) : 0;
  }
  return {
    run: {
      sid: record.sid,
      app_id: text(record.app_id),
      uid: text(record.uid),
      chat_id: text(record.chat_id),
      status_code: statusCode,
      is_error: statusCode !== 0 || nodes.some((n) => n.ok === 0) ? 1 : 0,
      start_time: start,
      end_time: end,
      duration: num(record.duration, end - start),
      first_frame_duration: firstFrame,
      ...usage,
      node_count: nodes.length,
      question: text(record.question).slice(0, 1024),
      size_bytes: json.length + nodes.reduce((s, n) => s + n.record.length, 0),
      error_log: hasErrorLog(record) ? 1 : 0,
      ingested_at: now,
      record: json,
    },
    nodes,
  };
}

/**
 * Node logs in execution order: a topological walk of the `next_log_ids`
 * graph, taking ready nodes by start time (then by their place in the
 * record) where the graph does not decide; nodes in a cycle come last, by
 * start time. O(n log n): the ready nodes wait in a binary heap.
 */
export function executionOrder<T extends { id: string; start_time: number; idx: number }>(
  nodes: readonly T[],
  next: (node: T) => readonly string[],
): T[] {
  const byId = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (!byId.has(n.id)) byId.set(n.id, i);
  });
  const indegree = new Int32Array(nodes.length);
  const edges: number[][] = nodes.map((n, i) => {
    const out: number[] = [];
    for (const id of new Set(next(n))) {
      const j = byId.get(id);
      if (j !== undefined && j !== i) {
        out.push(j);
        indegree[j]++;
      }
    }
    return out;
  });
  const before = (a: T, b: T) => a.start_time - b.start_time || a.idx - b.idx;
  const ready = new Heap<T>(before);
  const index = new Map<T, number>();
  nodes.forEach((n, i) => {
    index.set(n, i);
    if (indegree[i] === 0) ready.push(n);
  });
  const order: T[] = [];
  const done = new Uint8Array(nodes.length);
  while (ready.size) {
    const n = ready.pop()!;
    const i = index.get(n)!;
    order.push(n);
    done[i] = 1;
    for (const j of edges[i]) if (--indegree[j] === 0) ready.push(nodes[j]);
  }
  if (order.length < nodes.length) {
    order.push(...nodes.filter((_, i) => !done[i]).sort(before));
  }
  return order;
}

/** A binary min-heap by `less`. */
class Heap<T> {
  readonly #items: T[] = [];
  readonly #cmp: (a: T, b: T) => number;

  constructor(cmp: (a: T, b: T) => number) {
    this.#cmp = cmp;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#cmp(a[i], a[parent]) >= 0) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#cmp(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.#cmp(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
