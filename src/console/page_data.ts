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
import { SERVICES_WINDOW } from "../api/routes/status.ts";

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

  async #refreshSize(now: number): Promise<void> {
    if (!this.#deps.store || now - this.#size.at <= SIZE_TTL_MS) return;
    this.#size = { at: now, bytes: await this.#deps.store.size().catch(() => undefined) };
  }

  /** Everything the overview shows at `now`; a part that cannot be read says why, or is left out. */
  async read(now: number): Promise<OverviewData> {
    const deps = this.#deps;
    const probes = deps.board.list(now);
    // The parts are read side by side: none waits for another.
    const [slices, services, access] = await Promise.all([
      this.#slices
        ? this.#slices.read(probes.map((p) => p.name), now, (p) => deps.board.history(p, 4096))
          .catch((err) => {
            deps.logger.warn("console: uptime slices not read", { err: errorMessage(err) });
            return new Map();
          })
        : new Map(),
      deps.metrics
        ?.services({ window: SERVICES_WINDOW, until: deps.metrics.now?.() ?? now })
        .catch((err) => errorMessage(err)),
      deps.access?.() && deps.store
        ? import("../access/query.ts").then(({ accessSummary }) =>
          accessSummary(deps.store!.backend.db, { since: now - 3_600_000, until: now })
        ).then((s) => ({ logs: s.logs, errors_5xx: s.status_classes["5xx"] ?? 0 }))
          .catch((err) => errorMessage(err))
        : undefined,
      this.#refreshSize(now),
    ]);
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
  // The newest runs when there are more than a page holds; none while the store is away.
  const rows = await deps.store?.probeHistory(name, since, until, PROBE_RUNS, { newest: true })
    .catch(() => []) ?? [];
  for (const r of rows) {
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
