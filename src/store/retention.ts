/**
 * Keeping the store bounded: runs (and spans, probe results) older than the
 * retention go, in small batches so ingest never waits long; when the
 * database and its blobs pass the disk budget, the oldest runs go first;
 * blobs no run links to any more are removed with their files.
 *
 * @module
 */

import { sql } from "kysely";
import type { StoreBackend } from "./backend.ts";
import type { BlobStore } from "./blobs.ts";

/** What one pass removed, and the size it left. */
export interface RetentionResult {
  runs: number;
  spans: number;
  blobs: number;
  /** Database plus blob bytes after the pass. */
  bytes: number;
}

/** What a pass works with. */
export interface RetentionContext {
  backend: StoreBackend;
  blobs: BlobStore;
  /** Runs starting before `now - retention` go (ms). */
  retention: number;
  /** Disk budget in bytes (database and blobs together). */
  maxSize: number;
  /** Rows deleted per transaction. */
  batchSize?: number;
  /** Unreferenced blobs younger than this (ms) are left, for writes in flight. */
  blobGrace?: number;
  /** Whether files no row names may be swept (not while a spool waits for replay). */
  sweepOrphans?: boolean;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The bytes the store takes: database plus blob files. */
export async function storeSize(ctx: Pick<RetentionContext, "backend">): Promise<number> {
  const { db } = ctx.backend;
  const row = await db.selectFrom("blobs").select(sql<number>`coalesce(sum(size), 0)`.as("bytes"))
    .executeTakeFirst();
  return await ctx.backend.size() + Number(row?.bytes ?? 0);
}

/** Delete the runs in `sids` that still start before `before`, with their nodes and blob links. */
async function deleteRuns(backend: StoreBackend, sids: string[], before: number): Promise<number> {
  if (!sids.length) return 0;
  return await backend.db.transaction().execute(async (trx) => {
    const old = trx.selectFrom("runs").select("sid").where("sid", "in", sids)
      .where("start_time", "<", before);
    await trx.deleteFrom("nodes").where("sid", "in", old).execute();
    await trx.deleteFrom("run_blobs").where("sid", "in", old).execute();
    await trx.deleteFrom("run_search").where("sid", "in", old).execute();
    const r = await trx.deleteFrom("runs").where("sid", "in", sids)
      .where("start_time", "<", before).executeTakeFirst();
    return Number(r.numDeletedRows);
  });
}

/** Delete runs older than `cutoff`, oldest first, batch by batch. */
async function expireRuns(
  ctx: RetentionContext,
  cutoff: number,
  limit = Infinity,
): Promise<number> {
  const batch = ctx.batchSize ?? 500;
  let total = 0;
  while (total < limit) {
    const rows = await ctx.backend.db.selectFrom("runs").select("sid")
      .where("start_time", "<", cutoff).orderBy("start_time").orderBy("sid")
      .limit(Math.min(batch, limit - total)).execute();
    if (!rows.length) break;
    total += await deleteRuns(ctx.backend, rows.map((r) => r.sid), cutoff);
    await pause();
  }
  return total;
}

/** Delete spans (or probe results) older than `cutoff`, batch by batch. */
async function expireTable(
  ctx: RetentionContext,
  table: "spans" | "probe_results",
  cutoff: number,
): Promise<number> {
  const { db } = ctx.backend;
  const batch = ctx.batchSize ?? 500;
  let total = 0;
  for (;;) {
    let deleted: number;
    if (table === "spans") {
      const keys = await db.selectFrom("spans").select(["trace_id", "span_id"])
        .where("start_time", "<", cutoff).orderBy("start_time").limit(batch).execute();
      if (!keys.length) break;
      await db.deleteFrom("span_blobs").where(({ or, and, eb }) =>
        or(keys.map((k) => and([eb("trace_id", "=", k.trace_id), eb("span_id", "=", k.span_id)])))
      ).execute();
      const r = await db.deleteFrom("spans").where(({ or, and, eb }) =>
        or(keys.map((k) => and([eb("trace_id", "=", k.trace_id), eb("span_id", "=", k.span_id)])))
      ).executeTakeFirst();
      deleted = Number(r.numDeletedRows);
    } else {
      const r = await db.deleteFrom("probe_results").where("at", "<", cutoff).executeTakeFirst();
      deleted = Number(r.numDeletedRows);
      total += deleted;
      break;
    }
    total += deleted;
    if (deleted < batch) break;
    await pause();
  }
  return total;
}

/** Remove blobs no run links to (and their files); returns how many. */
export async function collectBlobs(ctx: RetentionContext, now: number): Promise<number> {
  const { db } = ctx.backend;
  const grace = ctx.blobGrace ?? 60_000;
  let removed = 0;
  for (;;) {
    const rows = await db.selectFrom("blobs").select("hash")
      .where("created_at", "<=", now - grace)
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom("run_blobs").select("sid").whereRef("run_blobs.hash", "=", "blobs.hash"),
        ))
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom("span_blobs").select("span_id").whereRef("span_blobs.hash", "=", "blobs.hash"),
        ))
      )
      .limit(ctx.batchSize ?? 500).execute();
    const hashes = rows.map((r) => r.hash).filter((h) => !ctx.blobs.isPinned(h));
    if (!hashes.length) break;
    await db.deleteFrom("blobs").where("hash", "in", hashes)
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom("run_blobs").select("sid").whereRef("run_blobs.hash", "=", "blobs.hash"),
        ))
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(
          selectFrom("span_blobs").select("span_id").whereRef("span_blobs.hash", "=", "blobs.hash"),
        ))
      ).execute();
    const still = new Set(
      (await db.selectFrom("blobs").select("hash").where("hash", "in", hashes).execute())
        .map((r) => r.hash),
    );
    for (const h of hashes) {
      if (still.has(h)) continue;
      await ctx.blobs.remove(h);
      removed++;
    }
    if (rows.length < (ctx.batchSize ?? 500)) break;
    await pause();
  }
  if (ctx.sweepOrphans) {
    for await (const hash of ctx.blobs.files(now - grace)) {
      if (ctx.blobs.isPinned(hash)) continue;
      const row = await db.selectFrom("blobs").select("hash").where("hash", "=", hash)
        .executeTakeFirst();
      if (!row) {
        await ctx.blobs.remove(hash);
        removed++;
      }
    }
  }
  return removed;
}

/**
 * One retention pass: age first, then the disk budget (oldest runs until the
 * store fits, estimating each run's share of the database from its row
 * sizes), then unreferenced blobs.
 */
export async function enforceRetention(
  ctx: RetentionContext,
  now: number,
): Promise<RetentionResult> {
  const cutoff = now - ctx.retention;
  let runs = await expireRuns(ctx, cutoff);
  let spans = await expireTable(ctx, "spans", cutoff);
  await expireTable(ctx, "probe_results", cutoff);
  await ctx.backend.db.deleteFrom("alert_events").where("at", "<", cutoff).execute();
  // Host logs' counts and kept lines (positions stay: they say where files were read to).
  const db = ctx.backend.db;
  await db.deleteFrom("access_minutes").where("minute", "<", cutoff).execute();
  await db.deleteFrom("access_hours").where("hour", "<", cutoff).execute();
  await db.deleteFrom("service_log_minutes").where("minute", "<", cutoff).execute();
  await db.deleteFrom("service_log_lines").where("at", "<", cutoff).execute();
  await ctx.backend.db.deleteFrom("silences").where("ends_at", "<", cutoff).execute();
  let blobs = await collectBlobs(ctx, now);
  let bytes = await storeSize(ctx);
  for (let round = 0; bytes > ctx.maxSize && round < 20; round++) {
    const { db } = ctx.backend;
    const totals = await db.selectFrom("runs")
      .select([sql<number>`count(*)`.as("n"), sql<number>`coalesce(sum(size_bytes), 0)`.as("b")])
      .executeTakeFirst();
    const count = Number(totals?.n ?? 0);
    if (!count) break;
    // Each run's share of the total: its bytes over all runs' bytes, at least 1/count.
    const perRun = Math.max(1, bytes / count);
    const excess = bytes - ctx.maxSize;
    const toDelete = Math.min(count, Math.max(1, Math.ceil((excess * 1.1) / perRun)));
    const edge = await db.selectFrom("runs").select("start_time").orderBy("start_time")
      .orderBy("sid").offset(toDelete - 1).limit(1).executeTakeFirst();
    if (!edge) break;
    runs += await expireRuns(ctx, Number(edge.start_time) + 1, toDelete);
    const oldest = await db.selectFrom("runs").select("start_time").orderBy("start_time")
      .limit(1).executeTakeFirst();
    spans += await expireTable(ctx, "spans", Number(oldest?.start_time ?? now));
    blobs += await collectBlobs({ ...ctx, blobGrace: 0, sweepOrphans: false }, now);
    await ctx.backend.reclaim();
    bytes = await storeSize(ctx);
  }
  if (runs || spans) await ctx.backend.reclaim();
  return { runs, spans, blobs, bytes };
}
