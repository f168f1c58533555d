/**
 * What the overview and a probe page show, read from the running agent: the
 * reads behind the pages, apart from how they are drawn.
 *
 * @module
 */

import type { ApiDeps } from "../api/deps.ts";
import type { OverviewData } from "./pages/overview.tsx";
import type { PhaseSample } from "./charts.tsx";
import { UptimeSlices } from "./uptime.ts";
import { errorMessage } from "../errors.ts";

/** What the console reads: the API's dependencies. */
export type ConsoleDeps = Pick<
  ApiDeps,
  | "version"
  | "startedAt"
  | "server"
  | "board"
  | "store"
  | "metrics"
  | "alerts"
  | "access"
  | "backups"
  | "log"
  | "storeStats"
  | "logger"
>;

/** Most probe runs one probe page reads. */
const PROBE_RUNS = 10_000;
/** How long the store's size (a walk of its files) is reused. */
const SIZE_TTL_MS = 30_000;

/** Reads the overview's data; keeps the uptime slices that have ended, and the store's size a while. */
export class OverviewReader {
  readonly #deps: ConsoleDeps;
  readonly #slices?: UptimeSlices;
  #size: { at: number; bytes?: number } = { at: 0 };

  constructor(deps: ConsoleDeps) {
    this.#deps = deps;
    if (deps.store) this.#slices = new UptimeSlices(deps.store);
  }

  /** Everything the overview shows at `now`; a part that cannot be read says why, or is left out. */
  async read(now: number): Promise<OverviewData> {
    const deps = this.#deps;
    const probes = deps.board.list(now);
    const slices = this.#slices
      ? await this.#slices.read(probes.map((p) => p.name), now, (p) => deps.board.history(p, 4096))
        .catch((err) => {
          deps.logger.warn("console: uptime slices not read", { err: errorMessage(err) });
          return new Map();
        })
      : new Map();
    const services = deps.metrics
      ? await deps.metrics.services({ window: 300_000, until: deps.metrics.now?.() ?? now })
        .catch((err) => errorMessage(err))
      : undefined;
    let access: OverviewData["access"];
    if (deps.access?.() && deps.store) {
      const { accessSummary } = await import("../access/query.ts");
      access = await accessSummary(deps.store.backend.db, { since: now - 3_600_000, until: now })
        .then((s) => ({ logs: s.logs, errors_5xx: s.status_classes["5xx"] ?? 0 }))
        .catch((err) => errorMessage(err));
    }
    if (deps.store && now - this.#size.at > SIZE_TTL_MS) {
      this.#size = { at: now, bytes: await deps.store.size().catch(() => undefined) };
    }
    return {
      now,
      probes,
      slices,
      alerts: deps.alerts?.()?.alerts(),
      services,
      access,
      backups: deps.backups?.()?.views(),
      agent: {
        version: deps.version,
        startedAt: deps.startedAt,
        log: deps.log?.(),
        store: deps.storeStats?.(),
        storeSize: this.#size.bytes,
        storeBudget: deps.store?.config.max_size,
      },
    };
  }
}

/**
 * A probe's runs in `[since, until)`, oldest first: the stored ones with
 * their phases, then those held in memory and not written yet (their totals).
 */
export async function probeSamples(
  deps: Pick<ConsoleDeps, "board" | "store">,
  name: string,
  since: number,
  until: number,
): Promise<PhaseSample[]> {
  const samples: PhaseSample[] = [];
  for (const r of await deps.store?.probeHistory(name, since, until, PROBE_RUNS) ?? []) {
    let phases: PhaseSample["phases"] = { total: Number(r.duration_ms) };
    try {
      phases = JSON.parse(r.record).phases ?? phases;
    } catch { /* an old row: the total only */ }
    samples.push({
      at: Number(r.at),
      ok: Number(r.ok) === 1,
      reason: r.reason || undefined,
      phases,
    });
  }
  const after = samples.at(-1)?.at ?? since;
  for (const s of deps.board.history(name, 4096)) {
    if (s.at > after && s.at >= since) {
      samples.push({ at: s.at, ok: s.ok, phases: { total: s.ms } });
    }
  }
  return samples;
}
