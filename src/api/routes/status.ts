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
import type { OtlpReceiverStats } from "../../otlp/receiver.ts";
import type { MetricsReader, ServicesResult } from "../../rollups/read.ts";
import { errorMessage } from "../../errors.ts";
import { textTable } from "../../text_table.ts";
import { formatAgo as ago, formatLatency as ms } from "../../text_time.ts";
import type { AlertEngine } from "../../alerts/engine.ts";
import { labelsText } from "../../alerts/lifecycle.ts";
import type { AccessLogs, AccessLogStats } from "../../access/live.ts";
import type { ServiceLogs } from "../../service_logs/live.ts";
import type { BackupJobs, BackupJobView } from "../../backup/jobs.ts";

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
  /** The OTLP receiver's listeners and counters. */
  otlpStats?: () => OtlpReceiverStats;
  /** The platform's metric rollups: a services section over the last 5 minutes. */
  metrics?: Pick<MetricsReader, "services" | "now">;
  /** The alert engine, when `alerts:` has rules. */
  alerts?: () => AlertEngine | undefined;
  /** The live access logs, when `access_logs:` has entries. */
  access?: () => AccessLogs | undefined;
  /** The live service logs, when `service_logs:` has entries. */
  serviceLogs?: () => ServiceLogs | undefined;
  /** The backup jobs, when `backups:` has entries. */
  backups?: () => BackupJobs | undefined;
}

/** The services section's window (`/status` and the console's overview). */
export const SERVICES_WINDOW = 300_000;

/** True when the request asks for JSON (`?format=json` or an `Accept` naming JSON before text). */
export function wantsJson(format: string | undefined, accept: string | undefined): boolean {
  if (format) return format === "json";
  return /application\/json/.test(accept ?? "") && !/^text\//.test(accept ?? "");
}

/** The status routes. */
export function statusRoutes(deps: StatusDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/status", async (c) => {
    const now = Date.now();
    const probes = deps.board.list(now);
    const components = deps.readiness();
    const otlp = deps.otlpStats?.();
    const engine = deps.alerts?.();
    const until = deps.metrics?.now?.() ?? now;
    const services = await deps.metrics?.services({ window: SERVICES_WINDOW, until })
      .catch((err) => errorMessage(err));
    // As last read: after each run, and each minute (GET /api/v1/backups reads the disk now).
    const backups = deps.backups?.()?.views();
    if (wantsJson(c.req.query("format"), c.req.header("Accept"))) {
      return c.json({
        version: deps.version,
        started_at: new Date(deps.startedAt).toISOString(),
        uptime_seconds: Math.round((now - deps.startedAt) / 1000),
        memory: memory(),
        components,
        scheduler: { lag_ms: deps.schedulerLag?.() },
        log: deps.log?.(),
        store: deps.storeStats?.(),
        otlp_receiver: otlp,
        probes,
        services: typeof services === "string" ? { error: services } : services?.services,
        alerts: engine ? { ...engine.stats(), firing_alerts: engine.alerts() } : undefined,
        access_logs: deps.access?.()?.stats(),
        service_logs: deps.serviceLogs?.()
          ? { logs: deps.serviceLogs()!.stats(), examples: deps.serviceLogs()!.examples }
          : undefined,
        backups,
      });
    }
    return c.text(
      renderStatus(deps, probes, components, now, deps.log?.(), deps.storeStats?.()) +
        (otlp ? `\n${renderOtlp(otlp)}\n` : "") +
        (services === undefined ? "" : renderServices(services)) +
        (engine ? renderAlerts(engine, now) : "") +
        renderAccess(deps.access?.()?.stats()) +
        renderServiceLogs(deps.serviceLogs?.()) +
        renderBackups(backups, now),
    );
  });
  return app;
}

/** The process's memory: resident, the JavaScript heap (total and used), and memory outside it (buffers). */
function memory() {
  const m = Deno.memoryUsage();
  return {
    rss_bytes: m.rss,
    heap_total_bytes: m.heapTotal,
    heap_used_bytes: m.heapUsed,
    external_bytes: m.external,
  };
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

/**
 * The OTLP receiver's line of `/status`, under the probe table: where it
 * listens (or why not), and what it has received, rejected and refused:
 * `otlp receiver: grpc 127.0.0.1:4317 http 127.0.0.1:4318, received spans 12 points 340 log records 5, rejected 0, requests refused 0`.
 */
export function renderOtlp(s: OtlpReceiverStats): string {
  const where = (name: string, l: OtlpReceiverStats["grpc"]) =>
    l.addr
      ? `${name} ${l.addr}`
      : l.off
      ? `${name} off (${l.off})`
      : `${name} ${l.listen} NOT LISTENING (${l.error ?? "stopped"})`;
  const listeners = s.enabled
    ? `${where("grpc", s.grpc)} ${where("http", s.http)}`
    : "off (otlp_receiver.enable; OTLP/HTTP on this port still taken)";
  const by = { traces: 0, metrics: 0, logs: 0 };
  let rejected = 0;
  let refused = 0;
  for (const c of s.counts) {
    by[c.signal] += c.received;
    rejected += c.rejected;
    for (const [result, n] of Object.entries(c.requests)) {
      if (result !== "ok" && result !== "partial") refused += n ?? 0;
    }
  }
  return `otlp receiver: ${listeners}, received spans ${by.traces} points ${by.metrics}` +
    `${s.metrics_kept ? "" : " (counted, not kept)"} log records ${by.logs}, ` +
    `rejected ${rejected}, requests refused ${refused}`;
}

/**
 * The services section of `/status`: one line per platform service heard
 * from, over the last 5 minutes (or why the rollups cannot be read).
 */
export function renderServices(services: ServicesResult | string): string {
  if (typeof services === "string") return `\nservices: cannot be read (${oneLine(services)})\n`;
  if (!services.services.length) return "\nno platform services heard from (otlp_receiver)\n";
  const rows = services.services.map((s) => [
    s.service,
    s.requests_per_min.toFixed(1),
    s.error_ratio === null ? "-" : `${(s.error_ratio * 100).toFixed(1)}%`,
    ms(s.latency_ms?.p50 ?? null),
    ms(s.latency_ms?.p90 ?? null),
    ms(s.latency_ms?.p99 ?? null),
    s.concurrency === null ? "-" : String(s.concurrency),
  ]);
  return `\nplatform services, last ${Math.round(SERVICES_WINDOW / 60_000)}m:\n` +
    textTable(["SERVICE", "REQ/MIN", "ERRORS", "P50", "P90", "P99", "CONC"], rows);
}

/** The alerts section of `/status`: firing and pending alerts, rules that fail, channels that fail. */
export function renderAlerts(engine: AlertEngine, now: number): string {
  const s = engine.stats();
  const head =
    `\nalerts: ${s.rules} rules, ${s.firing} firing, ${s.pending} pending, ${s.silences} silences` +
    (s.last_evaluation
      ? `, evaluated ${ago(now - s.last_evaluation.at)} ago in ${s.last_evaluation.ms}ms`
      : "") +
    (s.state_saved ? "" : ", STATE NOT SAVED (store away)");
  const lines = [head];
  for (const f of s.failing_rules) {
    lines.push(`  rule ${f.rule} NOT EVALUATED: ${oneLine(f.error ?? "")}`);
  }
  for (const [name, c] of Object.entries(s.channels)) {
    lines.push(
      `  channel ${name}: sent ${c.sent}, queued ${c.queued}, refused ${c.refused}, failed attempts ${c.failed}, dropped ${c.dropped}` +
        (c.last_error ? ` (last error: ${oneLine(c.last_error)})` : ""),
    );
  }
  const alerts = engine.alerts();
  if (alerts.length) {
    const rows = alerts.map((a) => [
      a.rule,
      a.state + (a.silenced ? " (silenced)" : ""),
      a.severity,
      labelsText(a.labels),
      oneLine(a.text),
      ago(now - (a.firing_since ?? a.active_since)),
    ]);
    lines.push(textTable(["RULE", "STATE", "SEVERITY", "LABELS", "VALUE", "FOR"], rows).trimEnd());
  }
  return lines.join("\n") + "\n";
}

/** The access logs section of `/status`: each log's files, how far behind, and what did not parse. */
export function renderAccess(logs: AccessLogStats[] | undefined): string {
  if (!logs?.length) return "";
  const lines = ["\naccess logs:"];
  for (const l of logs) {
    const behind = l.files.reduce((n, f) => n + f.behind, 0);
    lines.push(
      `  ${l.name} (${l.path}): ${l.requests} requests, ${l.files.length} files, ${behind} bytes behind` +
        `, ${l.unparsed} unparsed, ${l.cut} cut, ${l.binary} binary` +
        (l.last_request ? `, newest request ${l.last_request}` : "") +
        (l.problem ? `, WARNING: ${oneLine(l.problem)}` : ""),
    );
    if (l.unparsed_samples[0]) lines.push(`    unparsed: ${oneLine(l.unparsed_samples[0])}`);
  }
  return lines.join("\n") + "\n";
}

/** The backups section of `/status`: per job, the last success, the last run's outcome, the next run. */
export function renderBackups(jobs: BackupJobView[] | undefined, now: number): string {
  if (!jobs?.length) return "";
  const rows = jobs.map((j) => {
    const s = j.state;
    return [
      j.name,
      j.type,
      j.schedule,
      s.last_success ? `${ago(now - s.last_success.at)} ago` : "never",
      j.running ? "running" : !s.last_run ? "-" : s.last_run.ok ? "ok" : "FAILED",
      j.next_run === undefined ? "-" : new Date(j.next_run).toISOString().slice(0, 16) + "Z",
      String(j.dumps),
      String(s.failures ?? 0),
      s.last_run && !s.last_run.ok ? oneLine(s.last_run.error ?? "") : "-",
    ];
  });
  return "\nbackups:\n" +
    textTable(
      ["JOB", "TYPE", "SCHEDULE", "LAST SUCCESS", "LAST RUN", "NEXT", "DUMPS", "FAILURES", "ERROR"],
      rows,
    );
}

/** The service logs section of `/status`: lines and errors per entry, and the newest error examples. */
export function renderServiceLogs(logs: ServiceLogs | undefined): string {
  if (!logs) return "";
  const lines = ["\nservice logs:"];
  for (const l of logs.stats()) {
    lines.push(
      `  ${l.name} (${l.path}): ${l.files.length} files, ${l.lines} lines, ${l.errors} errors, ${l.examples} examples` +
        (l.problem ? `, WARNING: ${oneLine(l.problem)}` : ""),
    );
  }
  for (const e of logs.examples.slice(-5)) lines.push(`  ${e.at} ${e.file}: ${oneLine(e.line)}`);
  return lines.join("\n") + "\n";
}

function oneLine(text: string): string {
  const s = text.replace(/\s+/g, " ");
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
