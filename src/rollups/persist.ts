/**
 * The rollups in the trace store's database: `metric_series` (what each
 * series is) and `metric_rollups` (one row per series per minute). The same
 * statements serve SQLite and PostgreSQL: writes are upserts, one
 * transaction per flush; a minute written twice (a flush every few seconds,
 * a late point, a restart) adds up (counters, histograms) or keeps the
 * latest value (gauges).
 *
 * @module
 */

import { type Kysely, sql, type Transaction } from "kysely";
import type { StoreBackend } from "../store/backend.ts";
import type { Database, MetricRollupsTable, MetricSeriesTable } from "../store/schema.ts";
import type { Increment, SeriesInfo, SeriesKind } from "./series.ts";

/** One minute of one series, as read back. */
export interface RollupRow {
  series_id: string;
  minute: number;
  value: number;
  sum: number;
  counts?: number[];
  at: number;
}

/** A series row to write: what it is and when it was first and last heard from. */
export interface SeriesWrite {
  info: SeriesInfo;
  firstSeen: number;
  lastSeen: number;
}

/** The increments of one series to write. */
export interface IncrementsWrite {
  id: string;
  kind: SeriesKind;
  increments: readonly Increment[];
}

/** Rows per statement: well under either backend's bound-parameter limit. */
function chunkSize(backend: StoreBackend, columns: number): number {
  return Math.max(1, Math.min(1000, Math.floor(backend.capabilities.maxParameters / columns)));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const key = (id: string, minute: number) => `${id}\u0000${minute}`;

/** A series as a `metric_series` row. */
function seriesRow(w: SeriesWrite): MetricSeriesTable {
  return {
    id: w.info.id,
    service: w.info.service,
    name: w.info.name,
    kind: w.info.kind,
    unit: w.info.unit,
    description: w.info.description,
    labels: JSON.stringify(w.info.labels),
    bounds: w.info.bounds ? JSON.stringify(w.info.bounds) : "",
    first_seen: Math.floor(w.firstSeen),
    last_seen: Math.floor(w.lastSeen),
  };
}

/** An increment as a `metric_rollups` row. */
function rollupRow(id: string, inc: Increment): MetricRollupsTable {
  return {
    series_id: id,
    minute: inc.minute,
    value: inc.value,
    sum: inc.sum,
    counts: inc.counts ? JSON.stringify(inc.counts) : "",
    at: Number.isFinite(inc.at) ? Math.floor(inc.at) : inc.minute,
  };
}

/**
 * Write series rows and increments in one transaction.
 *
 * @throws what the database threw; nothing is written then.
 */
export async function writeRollups(
  backend: StoreBackend,
  series: readonly SeriesWrite[],
  writes: readonly IncrementsWrite[],
): Promise<void> {
  if (!series.length && !writes.length) return;
  const counters: MetricRollupsTable[] = [];
  const gauges: MetricRollupsTable[] = [];
  const histograms: MetricRollupsTable[] = [];
  for (const w of writes) {
    const into = w.kind === "counter" ? counters : w.kind === "gauge" ? gauges : histograms;
    for (const inc of w.increments) into.push(rollupRow(w.id, inc));
  }
  // Not through the store's writeTransaction: these adds are not safe to
  // repeat (a replay after a lost COMMIT would count twice).
  await backend.db.transaction().execute(async (trx) => {
    for (const part of chunks(series.map(seriesRow), chunkSize(backend, 10))) {
      await trx.insertInto("metric_series").values(part)
        .onConflict((oc) =>
          oc.column("id").doUpdateSet({
            last_seen: sql`CASE WHEN excluded.last_seen > metric_series.last_seen
              THEN excluded.last_seen ELSE metric_series.last_seen END`,
            unit: sql`excluded.unit`,
            description: sql`excluded.description`,
          })
        ).execute();
    }
    const laterAt = sql<number>`CASE WHEN excluded.at > metric_rollups.at
      THEN excluded.at ELSE metric_rollups.at END`;
    const size = chunkSize(backend, 6);
    for (const part of chunks(counters, size)) {
      await trx.insertInto("metric_rollups").values(part)
        .onConflict((oc) =>
          oc.columns(["series_id", "minute"]).doUpdateSet({
            value: sql`metric_rollups.value + excluded.value`,
            at: laterAt,
          })
        ).execute();
    }
    for (const part of chunks(gauges, size)) {
      await trx.insertInto("metric_rollups").values(part)
        .onConflict((oc) =>
          oc.columns(["series_id", "minute"]).doUpdateSet({
            value: sql`CASE WHEN excluded.at >= metric_rollups.at
              THEN excluded.value ELSE metric_rollups.value END`,
            at: laterAt,
          })
        ).execute();
    }
    if (histograms.length) await writeHistograms(trx, histograms, size);
  });
}

/**
 * Histogram minutes: bucket lists cannot be added in portable SQL, so the
 * rows already there are read in the same transaction, added to in code and
 * written back whole.
 */
async function writeHistograms(
  trx: Transaction<Database>,
  rows: MetricRollupsTable[],
  size: number,
): Promise<void> {
  const ids = [...new Set(rows.map((r) => r.series_id))];
  const minutes = [...new Set(rows.map((r) => r.minute))];
  const wanted = new Set(rows.map((r) => key(r.series_id, r.minute)));
  const existing = new Map<string, MetricRollupsTable>();
  for (const part of chunks(ids, Math.max(1, size * 6 - minutes.length))) {
    const found = await trx.selectFrom("metric_rollups").selectAll()
      .where("series_id", "in", part).where("minute", "in", minutes).execute();
    for (const r of found) {
      const k = key(r.series_id, Number(r.minute));
      if (wanted.has(k)) existing.set(k, r);
    }
  }
  const merged = rows.map((r) => {
    const old = existing.get(key(r.series_id, r.minute));
    if (!old) return r;
    const a = parseCounts(old.counts);
    const b = parseCounts(r.counts);
    const counts = a && b && a.length === b.length ? b.map((v, i) => v + a[i]) : b;
    return {
      ...r,
      value: r.value + Number(old.value),
      sum: r.sum + Number(old.sum),
      counts: JSON.stringify(counts ?? []),
      at: Math.max(r.at, Number(old.at)),
    };
  });
  for (const part of chunks(merged, size)) {
    await trx.insertInto("metric_rollups").values(part)
      .onConflict((oc) =>
        oc.columns(["series_id", "minute"]).doUpdateSet({
          value: sql`excluded.value`,
          sum: sql`excluded.sum`,
          counts: sql`excluded.counts`,
          at: sql`excluded.at`,
        })
      ).execute();
  }
}

function parseCounts(text: string): number[] | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v.map(Number) : undefined;
  } catch {
    return undefined;
  }
}

function parseJson<T>(text: string, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** A `metric_series` row as a series. */
export function seriesFromRow(r: MetricSeriesTable): SeriesInfo & { lastSeen: number } {
  const bounds = r.kind === "histogram" ? parseJson<number[]>(r.bounds, []) : undefined;
  return {
    id: r.id,
    service: r.service,
    name: r.name,
    kind: r.kind as SeriesKind,
    labels: parseJson<Record<string, string>>(r.labels, {}),
    bounds,
    unit: r.unit,
    description: r.description,
    lastSeen: Number(r.last_seen),
  };
}

/** What to read from `metric_series`. */
export interface SeriesFilter {
  /** Metric names (all when absent). */
  names?: readonly string[];
  service?: string;
  /** Only series heard from at or after this time (epoch ms). */
  seenSince?: number;
}

/** The series matching `filter`. */
export async function loadSeries(
  db: Kysely<Database>,
  filter: SeriesFilter,
): Promise<(SeriesInfo & { lastSeen: number })[]> {
  let q = db.selectFrom("metric_series").selectAll();
  if (filter.names) {
    if (!filter.names.length) return [];
    q = q.where("name", "in", [...filter.names]);
  }
  if (filter.service !== undefined) q = q.where("service", "=", filter.service);
  if (filter.seenSince !== undefined) q = q.where("last_seen", ">=", Math.floor(filter.seenSince));
  return (await q.execute()).map(seriesFromRow);
}

/** Each service heard from, with when it was last heard from. */
export async function loadServices(
  db: Kysely<Database>,
): Promise<{ service: string; lastSeen: number }[]> {
  const rows = await db.selectFrom("metric_series")
    .select(["service", sql<number>`max(last_seen)`.as("last_seen")])
    .groupBy("service").execute();
  return rows.map((r) => ({ service: r.service, lastSeen: Number(r.last_seen) }));
}

/** Rows read per statement at most (series times minutes), so a long range never loads at once. */
const ROWS_PER_READ = 100_000;

/**
 * The minutes of series `ids` in `[since, until)`, a bounded slice at a
 * time: `visit` sees each slice's rows and may aggregate them before the next.
 */
export async function visitRollups(
  db: Kysely<Database>,
  ids: readonly string[],
  since: number,
  until: number,
  visit: (rows: RollupRow[]) => void,
): Promise<void> {
  const idsPerRead = 1000;
  for (const part of chunks(ids, idsPerRead)) {
    const minutesPerRead = Math.max(1, Math.floor(ROWS_PER_READ / part.length));
    for (let from = since; from < until; from += minutesPerRead * 60_000) {
      const to = Math.min(until, from + minutesPerRead * 60_000);
      const rows = await db.selectFrom("metric_rollups").selectAll()
        .where("series_id", "in", part).where("minute", ">=", from).where("minute", "<", to)
        .execute();
      visit(rows.map((r) => ({
        series_id: r.series_id,
        minute: Number(r.minute),
        value: Number(r.value),
        sum: Number(r.sum),
        counts: parseCounts(r.counts),
        at: Number(r.at),
      })));
    }
  }
}

/** What one retention pass removed. */
export interface RollupRetentionResult {
  rollups: number;
  series: number;
}

/**
 * Delete minutes before `cutoff`, a few hours at a time so writers never
 * wait long, then the series with nothing left that were last heard from before it.
 */
export async function expireRollups(
  backend: StoreBackend,
  cutoff: number,
): Promise<RollupRetentionResult> {
  const { db } = backend;
  let rollups = 0;
  const oldest = await db.selectFrom("metric_rollups")
    .select(sql<number | null>`min(minute)`.as("m")).executeTakeFirst();
  let from = oldest?.m === null || oldest?.m === undefined ? cutoff : Number(oldest.m);
  while (from < cutoff) {
    const to = Math.min(cutoff, from + 6 * 3_600_000);
    const r = await db.deleteFrom("metric_rollups").where("minute", "<", to).executeTakeFirst();
    rollups += Number(r.numDeletedRows);
    from = to;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const r = await db.deleteFrom("metric_series").where("last_seen", "<", Math.floor(cutoff))
    .where(({ not, exists, selectFrom }) =>
      not(exists(
        selectFrom("metric_rollups").select("series_id")
          .whereRef("metric_rollups.series_id", "=", "metric_series.id"),
      ))
    ).executeTakeFirst();
  return { rollups, series: Number(r.numDeletedRows) };
}
