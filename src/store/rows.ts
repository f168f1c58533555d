/**
 * From a validated workflow record to table rows, and back. The run row
 * keeps the record without `trace`; each node log is its own row holding its
 * JSON, so a run reads back field for field.
 *
 * @module
 */

import type { NodesTable, RunsTable } from "./schema.ts";
import type { NodeLog, Usage, WorkflowRecord } from "./workflow.ts";

/** The rows one run becomes. */
export interface RunRows {
  run: RunsTable;
  nodes: NodesTable[];
}

const num = (v: unknown, fallback = 0): number =>
  typeof v === "number" && Number.isFinite(v) ? Math.round(v) : fallback;

/** `text` without NUL characters (PostgreSQL's `text` cannot hold them). */
export function noNul(text: string): string {
  return text.includes("\0") ? text.replaceAll("\0", "") : text;
}

/** A node's type: `node_type`, else the family before `:` in `node_id` (`llm::abc` -> `llm`). */
export function nodeType(n: NodeLog): string {
  if (typeof n.node_type === "string" && n.node_type) return noNul(n.node_type);
  return noNul((n.node_id ?? "").split(":")[0]);
}

function usageOf(u: Usage | undefined): Required<Usage> {
  return {
    question_tokens: num(u?.question_tokens),
    prompt_tokens: num(u?.prompt_tokens),
    completion_tokens: num(u?.completion_tokens),
    total_tokens: num(u?.total_tokens),
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
  const nodes: NodesTable[] = (trace ?? []).map((n, idx) => {
    const usage = usageOf(n.data?.usage);
    const start = num(n.start_time);
    const end = num(n.end_time, start + num(n.duration));
    return {
      sid: record.sid,
      idx,
      id: noNul(n.id),
      node_id: noNul(n.node_id ?? ""),
      node_type: nodeType(n),
      start_time: start,
      end_time: end,
      duration: num(n.duration, end - start),
      ok: n.running_status === false ? 0 : 1,
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
      record: JSON.stringify(n),
    };
  });
  let usage = usageOf(record.usage);
  if (!record.usage) {
    usage = nodes.reduce((sum, n) => ({
      question_tokens: sum.question_tokens,
      prompt_tokens: sum.prompt_tokens + n.prompt_tokens,
      completion_tokens: sum.completion_tokens + n.completion_tokens,
      total_tokens: sum.total_tokens + n.total_tokens,
    }), usage);
  }
  const start = num(record.start_time);
  const end = num(record.end_time, start + num(record.duration));
  const statusCode = num(record.status?.code);
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
      app_id: noNul(record.app_id ?? ""),
      uid: noNul(record.uid ?? ""),
      chat_id: noNul(record.chat_id ?? ""),
      status_code: statusCode,
      is_error: statusCode !== 0 || nodes.some((n) => n.ok === 0) ? 1 : 0,
      start_time: start,
      end_time: end,
      duration: num(record.duration, end - start),
      first_frame_duration: firstFrame,
      ...usage,
      node_count: nodes.length,
      question: noNul((record.question ?? "").slice(0, 1024)),
      size_bytes: json.length + nodes.reduce((s, n) => s + n.record.length, 0),
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
 * start time.
 */
export function executionOrder<T extends { id: string; start_time: number; idx: number }>(
  nodes: readonly T[],
  next: (node: T) => readonly string[],
): T[] {
  const byId = new Map<string, T>();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, n);
  const indegree = new Map<T, number>(nodes.map((n) => [n, 0]));
  const edges = new Map<T, T[]>();
  for (const n of nodes) {
    const out: T[] = [];
    for (const id of new Set(next(n))) {
      const m = byId.get(id);
      if (m && m !== n) {
        out.push(m);
        indegree.set(m, indegree.get(m)! + 1);
      }
    }
    edges.set(n, out);
  }
  const before = (a: T, b: T) => a.start_time - b.start_time || a.idx - b.idx;
  const ready = nodes.filter((n) => indegree.get(n) === 0);
  const order: T[] = [];
  const done = new Set<T>();
  while (ready.length) {
    ready.sort(before);
    const n = ready.shift()!;
    order.push(n);
    done.add(n);
    for (const m of edges.get(n)!) {
      const d = indegree.get(m)! - 1;
      indegree.set(m, d);
      if (d === 0) ready.push(m);
    }
  }
  if (order.length < nodes.length) {
    order.push(...nodes.filter((n) => !done.has(n)).sort(before));
  }
  return order;
}
