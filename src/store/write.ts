/**
 * Writing prepared rows: one transaction per batch, runs replaced by `sid`
 * (a re-sent run never duplicates), spans replaced by their ids, multi-row
 * inserts sized to the backend's parameter limit.
 *
 * @module
 */

import { CompiledQuery, type Insertable, type Transaction } from "kysely";
import type { StoreBackend } from "./backend.ts";
import type { BlobRef } from "./blobs.ts";
import { noNul, type RunRows } from "./rows.ts";
import type { Database, SpansTable } from "./schema.ts";

/** One run ready to write: its rows, the blobs it links to, and the text `q=` searches. */
export interface PreparedRun {
  rows: RunRows;
  blobs: BlobRef[];
  search?: string;
}

/** A batch of writes, as queued and as spooled. */
export interface WriteBatch {
  runs: PreparedRun[];
  spans: SpansTable[];
  /** Blobs spans link to (their values over 10 KiB). */
  spanBlobs?: { trace_id: string; span_id: string; blobs: BlobRef[] }[];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Compiled multi-row INSERT texts, by database, table, columns and row count. */
const insertTexts = new WeakMap<object, Map<string, string>>();

/**
 * The INSERT text for `count` rows of `columns`, compiled once by Kysely (so
 * each dialect's placeholders and quoting) and reused: building and
 * compiling a query tree for every batch costs more than running it.
 */
function insertText(
  trx: Transaction<Database>,
  key: object,
  table: keyof Database,
  columns: readonly string[],
  count: number,
): string {
  let texts = insertTexts.get(key);
  if (!texts) insertTexts.set(key, texts = new Map());
  const id = `${table}|${columns.join(",")}|${count}`;
  let text = texts.get(id);
  if (!text) {
    const template = Object.fromEntries(columns.map((c) => [c, null]));
    // deno-lint-ignore no-explicit-any
    const values = Array.from({ length: count }, () => template) as any;
    text = trx.insertInto(table).values(values).compile().sql;
    texts.set(id, text);
  }
  return text;
}

async function insertAll<T extends keyof Database>(
  trx: Transaction<Database>,
  key: object,
  table: T,
  rows: Insertable<Database[T]>[],
  maxParameters: number,
): Promise<void> {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]);
  const size = Math.max(1, Math.min(500, Math.floor(maxParameters / columns.length)));
  for (const part of chunks(rows, size)) {
    const params: unknown[] = [];
    for (const row of part) {
      const r = row as Record<string, unknown>;
      for (const c of columns) params.push(r[c]);
    }
    await trx.executeQuery(
      CompiledQuery.raw(insertText(trx, key, table, columns, part.length), params),
    );
  }
}

/**
 * Write `batch` in one transaction; later entries for the same `sid` (or
 * span ids) win. All or nothing.
 */
export async function writeBatch(
  backend: StoreBackend,
  batch: WriteBatch,
  now: number,
): Promise<void> {
  const bySid = new Map<string, PreparedRun>();
  for (const r of batch.runs) {
    bySid.delete(r.rows.run.sid);
    bySid.set(r.rows.run.sid, r);
  }
  const runs = [...bySid.values()];
  const spanByKey = new Map<string, SpansTable>();
  for (const s of batch.spans) spanByKey.set(`${s.trace_id}/${s.span_id}`, s);
  const spans = [...spanByKey.values()];
  const max = backend.capabilities.maxParameters;
  await writeTransaction(backend, async (trx) => {
    for (const sids of chunks(runs.map((r) => r.rows.run.sid), 500)) {
      await trx.deleteFrom("nodes").where("sid", "in", sids).execute();
      await trx.deleteFrom("run_blobs").where("sid", "in", sids).execute();
      await trx.deleteFrom("runs").where("sid", "in", sids).execute();
      await trx.deleteFrom("run_search").where("sid", "in", sids).execute();
    }
    await insertAll(trx, backend, "runs", runs.map((r) => r.rows.run), max);
    await insertAll(trx, backend, "nodes", runs.flatMap((r) => r.rows.nodes), max);
    const search = runs.flatMap((r) =>
      r.search ? [{ sid: r.rows.run.sid, text: noNul(r.search) }] : []
    );
    await insertAll(trx, backend, "run_search", search, max);
    const blobs = new Map<string, number>();
    const links: { sid: string; hash: string }[] = [];
    for (const r of runs) {
      for (const b of r.blobs) {
        blobs.set(b.hash, b.size);
        links.push({ sid: r.rows.run.sid, hash: b.hash });
      }
    }
    for (const sb of batch.spanBlobs ?? []) {
      for (const b of sb.blobs) blobs.set(b.hash, b.size);
    }
    for (const part of chunks([...blobs], 500)) {
      await trx.insertInto("blobs")
        .values(part.map(([hash, size]) => ({ hash, size, created_at: now })))
        .onConflict((oc) =>
          oc.column("hash").doUpdateSet((eb) => ({ created_at: eb.ref("excluded.created_at") }))
        )
        .execute();
    }
    const uniqueLinks = [...new Map(links.map((l) => [`${l.sid}/${l.hash}`, l])).values()];
    await insertAll(trx, backend, "run_blobs", uniqueLinks, max);
    const spanLinks = new Map<string, { trace_id: string; span_id: string; hash: string }>();
    for (const { trace_id, span_id, blobs: refs } of batch.spanBlobs ?? []) {
      for (const { hash } of refs) {
        spanLinks.set(`${trace_id}/${span_id}/${hash}`, { trace_id, span_id, hash });
      }
    }
    for (const part of chunks([...spanLinks.values()], 500)) {
      await trx.insertInto("span_blobs").values(part).onConflict((oc) => oc.doNothing()).execute();
    }
    const spanColumns = 11;
    for (const part of chunks(spans, Math.floor(max / spanColumns))) {
      await trx.insertInto("spans").values(part)
        .onConflict((oc) =>
          oc.columns(["trace_id", "span_id"]).doUpdateSet((eb) => ({
            parent_span_id: eb.ref("excluded.parent_span_id"),
            sid: eb.ref("excluded.sid"),
            name: eb.ref("excluded.name"),
            service_name: eb.ref("excluded.service_name"),
            start_time: eb.ref("excluded.start_time"),
            end_time: eb.ref("excluded.end_time"),
            status_code: eb.ref("excluded.status_code"),
            received_at: eb.ref("excluded.received_at"),
            record: eb.ref("excluded.record"),
          }))
        )
        .execute();
    }
  });
}

/**
 * Run `fn` in one write transaction, and fail it (as "unreachable", so it is
 * written again) when the database saw its COMMIT with no transaction open:
 * the driver reconnected under it and what it wrote before may be gone.
 * Writes through here must be safe to repeat.
 */
export async function writeTransaction<T>(
  backend: StoreBackend,
  fn: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const guard = backend.transactionGuard?.();
  const result = await backend.db.transaction().execute(fn);
  if (guard?.lost()) {
    throw Object.assign(new Error("the database session was lost during the transaction"), {
      code: "CONNECTION_CLOSED",
    });
  }
  return result;
}
