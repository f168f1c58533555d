/**
 * Alert state in the store: the pending and firing instances (so a restart
 * neither repeats nor loses a notification), the history of alerts that
 * fired and resolved, and the silences made through the API or the shell.
 *
 * @module
 */

import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { AlertEvent, AlertInstance } from "./lifecycle.ts";
import type { SilenceMatcher } from "./matchers.ts";

/** A silence: alerts whose labels match every matcher send nothing between `starts_at` and `ends_at`. */
export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  starts_at: number;
  ends_at: number;
  author: string;
  comment: string;
  created_at: number;
  /** `config` (alerts.silences) or `api` (the API and the shell). */
  origin: "config" | "api";
}

/** One line of the history. */
export interface HistoryEntry {
  at: number;
  event: "firing" | "resolved";
  rule: string;
  severity: string;
  labels: Record<string, string>;
  value: number;
  text: string;
  /** When it started firing (for a `resolved`). */
  firing_since?: number;
}

/** The instances kept at the last save. */
export async function loadInstances(db: Kysely<Database>): Promise<AlertInstance[]> {
  const rows = await db.selectFrom("alert_instances").select("record").execute();
  return rows.map((r) => JSON.parse(r.record) as AlertInstance);
}

/** Write the changed instances and remove the ended ones, with the history lines, in one transaction. */
export async function saveInstances(
  db: Kysely<Database>,
  changed: readonly AlertInstance[],
  removed: readonly string[],
  transitions: readonly AlertEvent[],
  now: number,
): Promise<void> {
  if (!changed.length && !removed.length && !transitions.length) return;
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < removed.length; i += 500) {
      await tx.deleteFrom("alert_instances").where("key", "in", removed.slice(i, i + 500))
        .execute();
    }
    for (let i = 0; i < changed.length; i += 200) {
      const rows = changed.slice(i, i + 200).map((a) => ({
        key: a.key,
        rule: a.rule,
        record: JSON.stringify(a),
        updated_at: now,
      }));
      await tx.insertInto("alert_instances").values(rows)
        .onConflict((oc) =>
          oc.column("key").doUpdateSet((eb) => ({
            record: eb.ref("excluded.record"),
            updated_at: eb.ref("excluded.updated_at"),
          }))
        ).execute();
    }
    for (let i = 0; i < transitions.length; i += 200) {
      await tx.insertInto("alert_events").values(
        transitions.slice(i, i + 200).map((e) => ({
          at: e.at,
          rule: e.instance.rule,
          key: e.instance.key,
          event: e.type,
          severity: e.instance.severity,
          record: JSON.stringify(e.instance),
        })),
      ).execute();
    }
  });
}

/** The history since `since` (epoch ms), newest first. */
export async function readHistory(
  db: Kysely<Database>,
  since: number,
  limit: number,
): Promise<HistoryEntry[]> {
  const rows = await db.selectFrom("alert_events").selectAll().where("at", ">=", since)
    .orderBy("at", "desc").limit(limit).execute();
  return rows.map((r) => {
    const i = JSON.parse(r.record) as AlertInstance;
    return {
      at: Number(r.at),
      event: r.event as HistoryEntry["event"],
      rule: r.rule,
      severity: r.severity,
      labels: i.labels,
      value: i.value,
      text: i.text,
      firing_since: i.firing_since,
    };
  });
}

/** Silences that have not ended by `now`. */
export async function loadSilences(db: Kysely<Database>, now: number): Promise<Silence[]> {
  const rows = await db.selectFrom("silences").selectAll().where("ends_at", ">", now)
    .orderBy("created_at").execute();
  return rows.map((r) => ({
    id: r.id,
    matchers: JSON.parse(r.matchers),
    starts_at: Number(r.starts_at),
    ends_at: Number(r.ends_at),
    author: r.author,
    comment: r.comment,
    created_at: Number(r.created_at),
    origin: "api",
  }));
}

/** Keep a new silence. */
export async function insertSilence(db: Kysely<Database>, s: Silence): Promise<void> {
  await db.insertInto("silences").values({
    id: s.id,
    matchers: JSON.stringify(s.matchers),
    starts_at: s.starts_at,
    ends_at: s.ends_at,
    author: s.author,
    comment: s.comment,
    created_at: s.created_at,
  }).execute();
}

/** End a silence now; false when there is no such live silence. */
export async function expireSilence(
  db: Kysely<Database>,
  id: string,
  now: number,
): Promise<boolean> {
  const r = await db.updateTable("silences").set({ ends_at: now }).where("id", "=", id)
    .where("ends_at", ">", now).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
