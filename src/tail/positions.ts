/**
 * Followed files' positions in the store (`tail_positions`), per source
 * (`access:nginx`, `service:core`): loaded when a follower starts, saved in
 * the transaction that stores what its lines produced.
 *
 * @module
 */

import type { Kysely, Transaction } from "kysely";
import type { Database } from "../store/schema.ts";
import type { TailPosition } from "./follower.ts";

/** A source's saved positions. */
export async function loadPositions(
  db: Kysely<Database>,
  source: string,
): Promise<TailPosition[]> {
  const rows = await db.selectFrom("tail_positions").selectAll().where("source", "=", source)
    .execute();
  return rows.map((r) => ({
    key: r.key,
    ino: r.ino,
    head: r.head,
    path: r.path,
    offset: Number(r.offset),
    ...(r.ended ? { ended: r.ended } : {}),
  }));
}

/** Save one stream's position inside `trx`. */
export async function savePosition(
  trx: Transaction<Database>,
  source: string,
  p: TailPosition,
): Promise<void> {
  const row = {
    ino: p.ino,
    head: p.head,
    path: p.path,
    offset: p.offset,
    ended: p.ended ?? "",
    updated_at: Date.now(),
  };
  await trx.insertInto("tail_positions").values({ source, key: p.key, ...row })
    .onConflict((oc) => oc.columns(["source", "key"]).doUpdateSet(row)).execute();
}

/** Drop a source's positions of streams gone for good (the follower's `forget`). */
export async function forgetPositions(
  db: Kysely<Database>,
  source: string,
  keys: string[],
): Promise<void> {
  if (!keys.length) return;
  await db.deleteFrom("tail_positions").where("source", "=", source).where("key", "in", keys)
    .execute();
}
