/**
 * `GET /status`: a plain-text table for `curl`, JSON with
 * `Accept: application/json` or `?format=json`.
 *
 * @module
 */

import { Hono } from "hono";
import type { ProbeBoard, ProbeStatus } from "../../probe/board.ts";
import type { ApiEnv } from "../env.ts";
import type { Readiness } from "./health.ts";
import type { RotatingFileSinkStats } from "../../log/rotating_file_sink.ts";
import type { StoreStats } from "../../store/store.ts";
import { textTable } from "../../text_table.ts";

/** What `/status` reads. */
export interface StatusDeps {
  version: string;
  startedAt: number;
  board: ProbeBoard;
  readiness: () => Readiness[];
  /** The log file and its sink's counters. */
  log?: () => { path: string; stats?: RotatingFileSinkStats };
  /** Schedule lag of probe runs, in ms. */
  schedulerLag?: () => { p50: number | null; p99: number | null; max: number | null; runs: number };
  /** The trace store's counters. */
  storeStats?: () => StoreStats;
}

/** True when the request asks for JSON (`?format=json` or an `Accept` naming JSON before text). */
export function wantsJson(format: string | undefined, accept: string | undefined): boolean {
  if (format) return format === "json";
  return /application\/json/.test(accept ?? "") && !/^text\//.test(accept ?? "");
}

/** The status routes. */
export function statusRoutes(deps: StatusDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/status", (c) => {
    const now = Date.now();
    const probes = deps.board.list(now);
    const components = deps.readiness();
    if (wantsJson(c.req.query("format"), c.req.header("Accept"))) {
      return c.json({
        version: deps.version,
        started_at: new Date(deps.startedAt).toISOString(),
        uptime_seconds: Math.round((now - deps.startedAt) / 1000),
        components,
        scheduler: { lag_ms: deps.schedulerLag?.() },
        log: deps.log?.(),
        store: deps.storeStats?.(),
        probes,
      });
    }
    return c.text(
      renderStatus(deps, probes, components, now, deps.log?.(), deps.storeStats?.()),
    );
  });
  return app;
}

/** Render the status as the plain-text table `curl /status` prints. */
export function renderStatus(
  deps: Pick<StatusDeps, "version" | "startedAt">,
  probes: ProbeStatus[],
  components: Readiness[],
  now: number,
  log?: { path: string; stats?: RotatingFileSinkStats },
  store?: StoreStats,
): string {
  const parts = components.map((r) =>
    `${r.component} ${r.ready ? "ok" : `NOT READY (${r.reason})`}`
  );
  const head = `astron-watch ${deps.version}  up ${ago(now - deps.startedAt)}  ${parts.join("  ")}`;
  const rows = probes.map((p) => [
    p.name,
    p.state,
    p.last ? `${ago(now - p.last.started_at)} ago` : "-",
    ms(p.p50),
    ms(p.p90),
    ms(p.p99),
    p.uptime === null ? "-" : `${(p.uptime * 100).toFixed(1)}%`,
    p.last_error ? oneLine(p.last_error.reason) : "-",
  ]);
  const table = textTable(
    ["PROBE", "STATE", "LAST", "P50", "P90", "P99", "UPTIME", "LAST ERROR"],
    rows,
  );
  const s = log?.stats;
  const logLine = log && s
    ? `\nlog ${log.path}: ${s.written_lines} lines written, ${s.dropped_lines} dropped, ${s.write_errors} write errors, ${s.rotations} rotations`
    : "";
  const storeLine = store
    ? `\nstore: ${store.full ? "DISK FULL" : store.up ? "up" : "DATABASE UNREACHABLE"}, ` +
      `${store.spooled} spooled, ${store.dead_letters} dead letters` +
      (store.dead_letters ? " (astron-watch traces dead-letters list)" : "") +
      `, records stored ${store.records.stored} spooled ${store.records.spooled} ` +
      `rejected ${store.records.rejected} refused ${store.records.refused}`
    : "";
  return `${head}${logLine}${storeLine}\n\n${probes.length ? table : "no probes configured\n"}`;
}

function ms(v: number | null): string {
  if (v === null) return "-";
  return v < 10
    ? `${v.toFixed(2)}ms`
    : v < 1000
    ? `${v.toFixed(0)}ms`
    : `${(v / 1000).toFixed(2)}s`;
}

function ago(msAgo: number): string {
  const s = Math.max(0, Math.round(msAgo / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

function oneLine(text: string): string {
  const s = text.replace(/\s+/g, " ");
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
