/**
 * Which dumps a job keeps, per database: the `keep_last` newest, the newest
 * of each of the `keep_daily` most recent days and of each of the
 * `keep_weekly` most recent ISO weeks that have a dump (days and weeks in
 * UTC, as the file names are); with none of those set, every dump. Then
 * dumps older than `max_age` go, but never the `keep_min` newest.
 *
 * @module
 */

import type { RetentionConfig } from "../config/backups.ts";

/** A dump as retention sees it. */
export interface Dated {
  path: string;
  database: string;
  /** When it was taken, epoch ms. */
  at: number;
}

/** What to remove, and why. */
export interface RetentionPlan<T extends Dated> {
  keep: T[];
  remove: { dump: T; reason: string }[];
}

/** Plan retention over `dumps` at `now`. */
export function planRetention<T extends Dated>(
  dumps: readonly T[],
  policy: RetentionConfig,
  now: number,
): RetentionPlan<T> {
  const plan: RetentionPlan<T> = { keep: [], remove: [] };
  const byDb = new Map<string, T[]>();
  for (const d of dumps) {
    (byDb.get(d.database) ?? byDb.set(d.database, []).get(d.database)!).push(d);
  }
  for (const series of byDb.values()) {
    series.sort((a, b) => b.at - a.at);
    const kept = new Set<T>();
    const anyRule = policy.keep_last || policy.keep_daily || policy.keep_weekly;
    if (!anyRule) { for (const d of series) kept.add(d); }
    series.slice(0, policy.keep_last).forEach((d) => kept.add(d));
    newestPer(series, dayOf, policy.keep_daily).forEach((d) => kept.add(d));
    newestPer(series, weekOf, policy.keep_weekly).forEach((d) => kept.add(d));
    series.forEach((d, i) => {
      if (i < policy.keep_min) {
        plan.keep.push(d);
      } else if (policy.max_age && now - d.at > policy.max_age) {
        plan.remove.push({ dump: d, reason: "older than max_age" });
      } else if (kept.has(d)) {
        plan.keep.push(d);
      } else {
        plan.remove.push({ dump: d, reason: "not kept by keep_last, keep_daily or keep_weekly" });
      }
    });
  }
  return plan;
}

/** The newest dump of each of the `n` most recent periods that have one (series newest first). */
function newestPer<T extends Dated>(series: T[], period: (ms: number) => string, n: number): T[] {
  const out: T[] = [];
  const seen = new Set<string>();
  for (const d of series) {
    if (seen.size >= n) break;
    const p = period(d.at);
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(d);
  }
  return out;
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The ISO week (`2026-W48`) of an instant, in UTC. */
export function weekOf(ms: number): string {
  const d = new Date(ms);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000)) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}
