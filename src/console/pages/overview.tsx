/**
 * The overview: the host on one screen. Probes with state, 24 h uptime bar,
 * p50/p99 and last error; then, for each part that is configured, alerts,
 * platform services, access logs and backups; then the agent itself.
 *
 * @module
 */

import type { PageContext } from "../layout.tsx";
import { Page } from "../layout.tsx";
import { UptimeBar, type UptimeSlice, utc } from "../charts.tsx";
import type { ProbeStatus } from "../../probe/board.ts";
import type { AlertView } from "../../alerts/engine.ts";
import type { ServicesResult } from "../../rollups/read.ts";
import type { BackupJobView } from "../../backup/jobs.ts";
import type { StoreStats } from "../../store/store.ts";
import type { RotatingFileSinkStats } from "../../log/rotating_file_sink.ts";
import { formatAgo, formatLatency } from "../../text_time.ts";
import { formatBytes } from "../../access/report_text.ts";
import { labelsText } from "../../alerts/lifecycle.ts";

/** What the overview shows; absent parts are not configured and not drawn. */
export interface OverviewData {
  now: number;
  probes: ProbeStatus[];
  slices: Map<string, UptimeSlice[]>;
  alerts?: AlertView[];
  services?: ServicesResult | string;
  access?:
    | { logs: { log: string; requests: number; bytes: number }[]; errors_5xx: number }
    | string;
  backups?: BackupJobView[];
  agent: {
    version: string;
    startedAt: number;
    log?: { path: string; stats?: RotatingFileSinkStats };
    store?: StoreStats;
    storeSize?: number;
    storeBudget?: number;
  };
}

const pct = (v: number | null | undefined) =>
  v === null || v === undefined ? "-" : `${(v * 100).toFixed(2)}%`;

/** The overview page. */
export function OverviewPage(props: { ctx: PageContext; data: OverviewData }) {
  const { t } = props.ctx;
  const d = props.data;
  return (
    <Page ctx={props.ctx} title={t.overview} nav="overview">
      <h1>{t.overview}</h1>
      <h2>{t.probes}</h2>
      {d.probes.length === 0 ? <p class="muted">{t.noProbes}</p> : (
        <table id="probes">
          <thead>
            <tr>
              <th>{t.probe}</th>
              <th>{t.state}</th>
              <th>{t.last24h}</th>
              <th class="num">{t.availability}</th>
              <th class="num">p50</th>
              <th class="num">p99</th>
              <th>{t.lastError}</th>
            </tr>
          </thead>
          <tbody>
            {d.probes.map((p) => (
              <tr data-probe={p.name} data-state={p.state}>
                <td>
                  <a href={`/probes/${encodeURIComponent(p.name)}`}>{p.name}</a>
                  <div class="muted">{p.type} {p.target}</div>
                </td>
                <td>
                  <span class={`state ${p.state}`}>{t[p.state]}</span>
                </td>
                <td>
                  <UptimeBar slices={d.slices.get(p.name) ?? []} t={t} />
                </td>
                <td class="num">{pct(p.uptime)}</td>
                <td class="num">{formatLatency(p.p50)}</td>
                <td class="num">{formatLatency(p.p99)}</td>
                <td>
                  {p.last_error
                    ? (
                      <span title={utc(p.last_error.at)}>
                        <span class="err">{p.last_error.code}</span> {p.last_error.reason}{" "}
                        <span class="muted">({formatAgo(d.now - p.last_error.at)})</span>
                      </span>
                    )
                    : "-"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d.alerts ? <AlertTable ctx={props.ctx} alerts={d.alerts} now={d.now} /> : null}
      {d.services === undefined ? null : <Services ctx={props.ctx} services={d.services} />}
      {d.access === undefined ? null : (
        <section id="access">
          <h2>{t.access}</h2>
          {typeof d.access === "string" ? <p class="err">{d.access}</p> : (
            <table>
              <thead>
                <tr>
                  <th>log</th>
                  <th class="num">{t.requests}</th>
                  <th class="num">{t.bytes}</th>
                </tr>
              </thead>
              <tbody>
                {d.access.logs.map((a) => (
                  <tr>
                    <td>{a.log}</td>
                    <td class="num">{a.requests}</td>
                    <td class="num">{formatBytes(a.bytes)}</td>
                  </tr>
                ))}
                <tr>
                  <th>{t.count5xx}</th>
                  <td class={`num${d.access.errors_5xx ? " err" : ""}`} id="access-5xx">
                    {d.access.errors_5xx}
                  </td>
                  <td></td>
                </tr>
              </tbody>
            </table>
          )}
        </section>
      )}
      {d.backups ? <Backups ctx={props.ctx} jobs={d.backups} now={d.now} /> : null}
      <Agent ctx={props.ctx} data={d} />
    </Page>
  );
}

/** Alerts firing and pending (also on the alerts page). */
export function AlertTable(props: { ctx: PageContext; alerts: AlertView[]; now: number }) {
  const { t } = props.ctx;
  return (
    <section id="alerts">
      <h2>{t.firingPending}</h2>
      {props.alerts.length === 0 ? <p class="muted">{t.noAlerts}</p> : (
        <table>
          <thead>
            <tr>
              <th>{t.rule}</th>
              <th>{t.state}</th>
              <th>{t.severity}</th>
              <th>{t.labels}</th>
              <th>{t.value}</th>
              <th>{t.forTime}</th>
            </tr>
          </thead>
          <tbody>
            {props.alerts.map((a) => (
              <tr data-alert={a.rule} data-state={a.state}>
                <td>{a.rule}</td>
                <td>
                  <span class={`state ${a.silenced ? "silenced" : a.state}`}>
                    {a.silenced ? t.silenced : t[a.state]}
                  </span>
                </td>
                <td>{a.severity}</td>
                <td class="muted">{labelsText(a.labels)}</td>
                <td>{a.text}</td>
                <td>{formatAgo(props.now - (a.firing_since ?? a.active_since))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Services(props: { ctx: PageContext; services: ServicesResult | string }) {
  const { t } = props.ctx;
  const s = props.services;
  return (
    <section id="services">
      <h2>{t.services}</h2>
      {typeof s === "string"
        ? <p class="err">{s}</p>
        : s.services.length === 0
        ? <p class="muted">{t.noServices}</p>
        : (
          <table>
            <thead>
              <tr>
                <th>{t.service}</th>
                <th class="num">{t.reqPerMin}</th>
                <th class="num">{t.errorRatio}</th>
                <th class="num">p50</th>
                <th class="num">p99</th>
              </tr>
            </thead>
            <tbody>
              {s.services.map((v) => (
                <tr>
                  <td>{v.service}</td>
                  <td class="num">{v.requests_per_min.toFixed(1)}</td>
                  <td class={`num${v.error_ratio ? " err" : ""}`}>{pct(v.error_ratio)}</td>
                  <td class="num">{formatLatency(v.latency_ms?.p50)}</td>
                  <td class="num">{formatLatency(v.latency_ms?.p99)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </section>
  );
}

function Backups(props: { ctx: PageContext; jobs: BackupJobView[]; now: number }) {
  const { t } = props.ctx;
  return (
    <section id="backups">
      <h2>{t.backups}</h2>
      <table>
        <thead>
          <tr>
            <th>{t.job}</th>
            <th>{t.lastSuccess}</th>
            <th>{t.lastRun}</th>
            <th class="num">{t.failures}</th>
          </tr>
        </thead>
        <tbody>
          {props.jobs.map((j) => {
            const s = j.state;
            return (
              <tr>
                <td>
                  {j.name} <span class="muted">{j.type}</span>
                </td>
                <td>
                  {s.last_success ? `${formatAgo(props.now - s.last_success.at)}` : t.never}
                </td>
                <td>
                  {j.running
                    ? "…"
                    : !s.last_run
                    ? "-"
                    : s.last_run.ok
                    ? <span class="state ok">{t.ok}</span>
                    : <span class="err">{t.failed}: {s.last_run.error}</span>}
                </td>
                <td class="num">{s.failures ?? 0}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function Agent(props: { ctx: PageContext; data: OverviewData }) {
  const { t } = props.ctx;
  const a = props.data.agent;
  const rows: [string, string][] = [
    [t.version, a.version],
    [t.uptime, formatAgo(props.data.now - a.startedAt)],
  ];
  if (a.log?.stats) rows.push([t.logDrops, String(a.log.stats.dropped_lines)]);
  if (a.storeSize !== undefined) {
    rows.push([
      t.storeSize,
      formatBytes(a.storeSize) +
      (a.storeBudget ? ` / ${formatBytes(a.storeBudget)} ${t.budget}` : ""),
    ]);
  }
  if (a.store) {
    rows.push([t.spool, String(a.store.spooled)], [t.deadLetters, String(a.store.dead_letters)]);
  }
  return (
    <section id="agent">
      <h2>{t.agent}</h2>
      <table>
        <tbody>
          {rows.map(([k, v]) => (
            <tr>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
