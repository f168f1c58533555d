/**
 * Uptime slices for the overview's bars: each probe's checks and failures per
 * slice of the last 24 hours, from the stored probe history. A slice that
 * has ended (and whose runs have been written) never changes, so it is read
 * once and kept; a page view then reads only the newest slices.
 *
 * @module
 */

import { sql } from "kysely";
import type { Store } from "../store/store.ts";
import type { UptimeSlice } from "./charts.tsx";

/** How the bars are cut: 96 slices of 15 minutes. */
export const SLICES = { count: 96, ms: 15 * 60_000 } as const;
/** How long after a slice ends its runs may still be arriving (the history writes every 5 s). */
const SETTLE_MS = 60_000;

/** Reads and keeps the slices. */
export class UptimeSlices {
  readonly #store: Store;
  /** Settled slices: probe -> slice start -> [checks, failures]. */
  readonly #settled = new Map<string, Map<number, [number, number]>>();
  /** Slices before this start are settled and kept (for every probe). */
  #settledUntil = 0;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * The last 24 h of slices for each probe named, oldest first. `recent` are
   * runs held in memory (the last hour): a slice counts whichever of the two
   * saw more runs, so runs not yet written show at once.
   */
  async read(
    probes: readonly string[],
    now: number,
    recent: (probe: string) => readonly { at: number; ok: boolean }[] = () => [],
  ): Promise<Map<string, UptimeSlice[]>> {
    const last = Math.floor(now / SLICES.ms) * SLICES.ms;
    const first = last - (SLICES.count - 1) * SLICES.ms;
    const from = Math.max(first, this.#settledUntil);
    const fresh = await this.#query(from, now);
    const settleBefore = Math.floor((now - SETTLE_MS) / SLICES.ms) * SLICES.ms;
    for (const [probe, slices] of fresh) {
      for (const [start, v] of slices) {
        if (start + SLICES.ms <= settleBefore) this.#keep(probe, start, v);
      }
    }
    this.#settledUntil = Math.max(this.#settledUntil, settleBefore);
    // Forget what has left the window.
    for (const m of this.#settled.values()) {
      for (const start of m.keys()) if (start < first) m.delete(start);
    }
    const out = new Map<string, UptimeSlice[]>();
    for (const probe of probes) {
      const kept = this.#settled.get(probe);
      const live = fresh.get(probe) ?? new Map<number, [number, number]>();
      const memory = new Map<number, [number, number]>();
      for (const r of recent(probe)) {
        const start = Math.floor(r.at / SLICES.ms) * SLICES.ms;
        const v = memory.get(start) ?? [0, 0];
        memory.set(start, [v[0] + 1, v[1] + (r.ok ? 0 : 1)]);
      }
      for (const [start, v] of memory) {
        const stored = live.get(start) ?? kept?.get(start);
        if (!stored || stored[0] < v[0]) live.set(start, v);
      }
      out.set(
        probe,
        Array.from({ length: SLICES.count }, (_, i) => {
          const start = first + i * SLICES.ms;
          const [checks, failures] = live.get(start) ?? kept?.get(start) ?? [0, 0];
          return { start, end: start + SLICES.ms, checks, failures };
        }),
      );
    }
    return out;
  }

  #keep(probe: string, start: number, v: [number, number]): void {
    let m = this.#settled.get(probe);
    if (!m) this.#settled.set(probe, m = new Map());
    m.set(start, v);
  }

  /** Checks and failures per probe and slice, for runs in `[from, until)`. */
  async #query(from: number, until: number): Promise<Map<string, Map<number, [number, number]>>> {
    // A literal, not a parameter: PostgreSQL must see the same expression in GROUP BY.
    const slot = sql<number>`(at / ${sql.lit(SLICES.ms)}) * ${sql.lit(SLICES.ms)}`;
    const rows = await this.#store.backend.db.selectFrom("probe_results")
      .select((eb) => [
        "probe",
        slot.as("slot"),
        eb.fn.countAll<number>().as("checks"),
        eb.fn.sum<number>(sql`1 - ok`).as("failures"),
      ])
      .where("at", ">=", from).where("at", "<", until)
      .groupBy(["probe", slot])
      .execute();
    const out = new Map<string, Map<number, [number, number]>>();
    for (const r of rows) {
      let m = out.get(r.probe);
      if (!m) out.set(r.probe, m = new Map());
      m.set(Number(r.slot), [Number(r.checks), Number(r.failures)]);
    }
    return out;
  }
}
