/**
 * Reading the store: run lists with filters and stable cursor pagination,
 * one run with its nodes in execution order and its spans, and usage
 * statistics (token sums, latency percentiles) by `app_id` or `node_type`.
 *
 * @module
 */

import { type Expression, sql, type SqlBool } from "kysely";
import type { StoreBackend } from "./backend.ts";
import type { RunsTable } from "./schema.ts";
import { executionOrder } from "./rows.ts";
import type { NodeLog, Usage, WorkflowRecord } from "../workflow/record.ts";
import type { SpanRecord } from "../otlp/traces.ts";
import { percentile } from "../stats.ts";

/** Where a list page continues: after the run with this start time and sid. */
export interface Cursor {
  start_time: number;
  sid: string;
}

/** Filters and paging for {@linkcode listRuns}. */
export interface ListQuery {
  app_id?: string;
  uid?: string;
  chat_id?: string;
  /** `error`: runs whose status code is not 0 (or a node failed); `ok`: the others. */
  status?: "error" | "ok";
  /** Runs starting at or after this epoch ms. */
  since?: number;
  /** Runs starting before this epoch ms. */
  until?: number;
  /**
   * Text in the sid, the question, the answer, the status message, a node's
   * log lines or an offloaded string (case-insensitive for ASCII; from three
   * characters the trigram index answers, below that sid and question only).
   */
  q?: string;
  /** `error`: runs with a node log line at ERROR. */
  log_level?: "error";
  /** Page size, 1 to 500. */
  limit: number;
  cursor?: Cursor;
}

/** One run on a list page. */
export interface RunSummary {
  sid: string;
  app_id: string;
  uid: string;
  chat_id: string;
  status_code: number;
  error: boolean;
  start_time: number;
  end_time: number;
  duration: number;
  first_frame_duration: number;
  usage: Required<Usage>;
  node_count: number;
  question: string;
  /** A node logged at ERROR. */
  error_log: boolean;
}

/** A list page; `next_cursor` is null on the last page. */
export interface ListResult {
  runs: RunSummary[];
  next_cursor: string | null;
}

/** One run: the platform's record with a page of its `trace` in execution order, and its spans. */
export interface RunDetail {
  sid: string;
  record: WorkflowRecord;
  /** Which of the run's nodes `record.trace` holds; `next_offset` is null on the last page. */
  nodes: { total: number; offset: number; limit: number; next_offset: number | null };
  /** The spans recorded with the run's sid, oldest first, at most {@linkcode SPAN_LIMIT}. */
  spans: SpanRecord[];
  /** How many spans the run has in all. */
  spans_total: number;
  /** The blobs the record links to. */
  blobs: string[];
}

/** Which nodes of a run to read: `limit` of them from `offset` in execution order. */
export interface NodePage {
  offset: number;
  limit: number;
}

/** Nodes on one page unless asked otherwise, and the most one page may hold. */
export const NODE_PAGE = { default: 500, max: 2000 } as const;
/** Most spans one run answer carries. */
export const SPAN_LIMIT = 1000;

/** What {@linkcode usageStats} groups by. */
export type UsageGroupBy = "app_id" | "node_type";

/** The window and grouping of {@linkcode usageStats}. */
export interface UsageQuery {
  by: UsageGroupBy;
  since: number;
  until: number;
}

/** One group's totals. */
export interface UsageGroup {
  key: string;
  /** Runs (by app_id) or node executions (by node_type). */
  count: number;
  errors: number;
  question_tokens: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Duration percentiles in ms (nearest rank). */
  latency_ms: { p50: number; p90: number; p99: number };
}

/** The answer of {@linkcode usageStats}. */
export interface UsageResult {
  by: UsageGroupBy;
  since: number;
  until: number;
  groups: UsageGroup[];
}

/** Encode a cursor as opaque URL-safe text. */
export function encodeCursor(c: Cursor): string {
  return btoa(JSON.stringify([c.start_time, c.sid]))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decode cursor text; `undefined` when it is not one this store made. */
export function decodeCursor(text: string): Cursor | undefined {
  if (text.length > 400 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const v = JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/")));
    if (
      Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) &&
      typeof v[1] === "string" && v[1].length <= 128
    ) {
      return { start_time: v[0], sid: v[1] };
    }
  } catch {
    // not ours
  }
  return undefined;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => "\\" + c);
}

const n = (v: unknown): number => Number(v ?? 0);

function summary(r: Omit<RunsTable, "record" | "size_bytes" | "ingested_at">): RunSummary {
  return {
    sid: r.sid,
    app_id: r.app_id,
    uid: r.uid,
    chat_id: r.chat_id,
    status_code: n(r.status_code),
    error: n(r.is_error) === 1,
    start_time: n(r.start_time),
    end_time: n(r.end_time),
    duration: n(r.duration),
    first_frame_duration: n(r.first_frame_duration),
    usage: {
      question_tokens: n(r.question_tokens),
      prompt_tokens: n(r.prompt_tokens),
      completion_tokens: n(r.completion_tokens),
      total_tokens: n(r.total_tokens),
    },
    node_count: n(r.node_count),
    question: r.question,
    error_log: n(r.error_log) === 1,
  };
}

/** One page of runs, newest first; pages are stable under concurrent ingest. */
export async function listRuns(backend: StoreBackend, q: ListQuery): Promise<ListResult> {
  const { db, capabilities } = backend;
  let query = db.selectFrom("runs").select([
    "sid",
    "app_id",
    "uid",
    "chat_id",
    "status_code",
    "is_error",
    "start_time",
    "end_time",
    "duration",
    "first_frame_duration",
    "question_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "node_count",
    "question",
    "error_log",
  ]);
  if (q.app_id !== undefined) query = query.where("app_id", "=", q.app_id);
  if (q.uid !== undefined) query = query.where("uid", "=", q.uid);
  if (q.chat_id !== undefined) query = query.where("chat_id", "=", q.chat_id);
  if (q.status) query = query.where("is_error", "=", q.status === "error" ? 1 : 0);
  if (q.since !== undefined) query = query.where("start_time", ">=", q.since);
  if (q.until !== undefined) query = query.where("start_time", "<", q.until);
  if (q.log_level === "error") query = query.where("error_log", "=", 1);
  if (q.q) {
    if ([...q.q].length >= 3) {
      // The trigram index holds the sid and question too: one indexed lookup.
      query = query.where(sql<SqlBool>`sid in (${backend.searchSids(q.q)})`);
    } else {
      const pattern = `%${escapeLike(q.q)}%`;
      const op = sql.raw(capabilities.likeOperator);
      query = query.where(({ or }) =>
        or([
          sql<SqlBool>`sid ${op} ${pattern} escape '\\'`,
          sql<SqlBool>`question ${op} ${pattern} escape '\\'`,
        ])
      );
    }
  }
  const c = q.cursor;
  if (c) {
    query = query.where(({ eb, or, and }) =>
      or([
        eb("start_time", "<", c.start_time),
        and([eb("start_time", "=", c.start_time), eb("sid", "<", c.sid)]),
      ])
    );
  }
  const rows = await query.orderBy("start_time", "desc").orderBy("sid", "desc")
    .limit(q.limit + 1).execute();
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit).map(summary);
  const last = page.at(-1);
  return {
    runs: page,
    next_cursor: more && last ? encodeCursor({ start_time: last.start_time, sid: last.sid }) : null,
  };
}

/**
 * One run with one page of its nodes in execution order (decided at ingest;
 * runs stored before that are ordered here) and the spans recorded with its
 * sid. What one answer costs is bounded by the page, whatever the run's size.
 */
export async function getRun(
  backend: StoreBackend,
  sid: string,
  page: NodePage = { offset: 0, limit: NODE_PAGE.default },
): Promise<RunDetail | undefined> {
  const { db } = backend;
  const run = await db.selectFrom("runs").select(["record"]).where("sid", "=", sid)
    .executeTakeFirst();
  if (!run) return undefined;
  const [counts, spans, spanCount, blobs] = await Promise.all([
    db.selectFrom("nodes").select((eb) => [
      eb.fn.countAll().as("total"),
      eb.fn.count("ord").as("ordered"),
    ]).where("sid", "=", sid).executeTakeFirstOrThrow(),
    db.selectFrom("spans").select(["record"]).where("sid", "=", sid)
      .orderBy("start_time").orderBy("span_id").limit(SPAN_LIMIT).execute(),
    db.selectFrom("spans").select((eb) => eb.fn.countAll().as("n")).where("sid", "=", sid)
      .executeTakeFirstOrThrow(),
    db.selectFrom("run_blobs").select(["hash"]).where("sid", "=", sid).execute(),
  ]);
  const total = n(counts.total);
  let records: string[];
  if (n(counts.ordered) === total) {
    const rows = await db.selectFrom("nodes").select(["record"]).where("sid", "=", sid)
      .orderBy("ord").limit(page.limit).offset(page.offset).execute();
    records = rows.map((r) => r.record);
  } else {
    const rows = await db.selectFrom("nodes").select(["idx", "id", "start_time", "record"])
      .where("sid", "=", sid).orderBy("idx").execute();
    const parsed = rows.map((row) => ({
      id: row.id,
      idx: n(row.idx),
      start_time: n(row.start_time),
      record: row.record,
      next: nextIds((JSON.parse(row.record) as NodeLog | null)?.next_log_ids),
    }));
    records = executionOrder(parsed, (x) => x.next)
      .slice(page.offset, page.offset + page.limit).map((x) => x.record);
  }
  const record = JSON.parse(run.record) as WorkflowRecord;
  if (Array.isArray(record.trace)) record.trace = records.map((r) => JSON.parse(r) as NodeLog);
  const end = page.offset + records.length;
  return {
    sid,
    record,
    nodes: {
      total,
      offset: page.offset,
      limit: page.limit,
      next_offset: end < total ? end : null,
    },
    spans: spans.map((s) => JSON.parse(s.record) as SpanRecord),
    spans_total: n(spanCount.n),
    blobs: blobs.map((b) => b.hash),
  };
}

/** A node's `next_log_ids` as ids (anything else in it is not an edge). */
function nextIds(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((id): id is string => typeof id === "string") : [];
}

/** Token sums and latency percentiles per group over a window. */
export async function usageStats(backend: StoreBackend, q: UsageQuery): Promise<UsageResult> {
  const { db, capabilities } = backend;
  const fromRuns = q.by === "app_id";
  const table = fromRuns ? "runs" : "nodes";
  const key = sql.ref<string>(fromRuns ? "app_id" : "node_type");
  const inWindow = (): Expression<SqlBool> =>
    sql<SqlBool>`start_time >= ${q.since} and start_time < ${q.until}`;
  const errors = fromRuns ? sql<number>`sum(is_error)` : sql<number>`sum(1 - ok)`;
  // SQLite's sum() fails past 2^63 and cannot be read past 2^53; total() is a float.
  const sum = (col: string) => sql<number>`${sql.raw(capabilities.sumFunction)}(${sql.ref(col)})`;
  const questionTokens = fromRuns ? sum("question_tokens") : sql<number>`0`;
  const pct = (p: number) =>
    capabilities.percentiles
      ? sql<number>`percentile_disc(${sql.lit(p)}) within group (order by duration)`
      : sql<number>`0`;
  const rows = await db.selectFrom(table)
    .select([
      key.as("key"),
      sql<number>`count(*)`.as("count"),
      errors.as("errors"),
      questionTokens.as("question_tokens"),
      sum("prompt_tokens").as("prompt_tokens"),
      sum("completion_tokens").as("completion_tokens"),
      sum("total_tokens").as("total_tokens"),
      pct(0.5).as("p50"),
      pct(0.9).as("p90"),
      pct(0.99).as("p99"),
    ])
    .where(inWindow)
    .groupBy(key)
    .orderBy(key)
    .execute();
  const groups: UsageGroup[] = rows.map((r) => ({
    key: r.key,
    count: n(r.count),
    errors: n(r.errors),
    question_tokens: n(r.question_tokens),
    prompt_tokens: n(r.prompt_tokens),
    completion_tokens: n(r.completion_tokens),
    total_tokens: n(r.total_tokens),
    latency_ms: { p50: n(r.p50), p90: n(r.p90), p99: n(r.p99) },
  }));
  if (!capabilities.percentiles && groups.length) {
    // Durations come back sorted by group then value: one pass, no sort here.
    const durations = await db.selectFrom(table).select([key.as("key"), "duration"])
      .where(inWindow).orderBy(key).orderBy("duration").execute();
    const byKey = new Map<string, number[]>();
    for (const d of durations) {
      let list = byKey.get(d.key);
      if (!list) byKey.set(d.key, list = []);
      list.push(n(d.duration));
    }
    for (const g of groups) {
      const sorted = byKey.get(g.key) ?? [];
      g.latency_ms = {
        p50: percentile(sorted, 0.5) ?? 0,
        p90: percentile(sorted, 0.9) ?? 0,
        p99: percentile(sorted, 0.99) ?? 0,
      };
    }
  }
  return { by: q.by, since: q.since, until: q.until, groups };
}

/** Tokens per `app_id` per time step: the usage page's chart. */
export interface UsageSeries {
  /** Each step's start, oldest first. */
  starts: number[];
  apps: { app_id: string; total_tokens: number[] }[];
}

/** Total tokens per app and `step` over `[since, until)`, read from the runs' time index. */
export async function usageSeries(
  backend: StoreBackend,
  q: { since: number; until: number; step: number },
): Promise<UsageSeries> {
  const { db, capabilities } = backend;
  // Literals, not parameters: PostgreSQL must see the same expression in GROUP BY.
  const bucket = sql<number>`(start_time / ${sql.lit(q.step)}) * ${sql.lit(q.step)}`;
  const rows = await db.selectFrom("runs")
    .select([
      "app_id",
      bucket.as("bucket"),
      sql<number>`${sql.raw(capabilities.sumFunction)}(total_tokens)`.as("tokens"),
    ])
    .where("start_time", ">=", q.since).where("start_time", "<", q.until)
    .groupBy(["app_id", bucket])
    .execute();
  const first = Math.floor(q.since / q.step) * q.step;
  const count = Math.max(1, Math.ceil((q.until - first) / q.step));
  const starts = Array.from({ length: count }, (_, i) => first + i * q.step);
  const apps = new Map<string, UsageSeries["apps"][number]>();
  for (const r of rows) {
    let a = apps.get(r.app_id);
    if (!a) {
      apps.set(
        r.app_id,
        a = { app_id: r.app_id, total_tokens: Array(count).fill(0) },
      );
    }
    const i = Math.round((n(r.bucket) - first) / q.step);
    if (i < 0 || i >= count) continue;
    a.total_tokens[i] += n(r.tokens);
  }
  return {
    starts,
    apps: [...apps.values()].sort((x, y) => x.app_id.localeCompare(y.app_id)),
  };
}
