/**
 * A probe's page: its latency over a chosen window with the phases stacked,
 * failures marked with their reasons, and the runs below.
 *
 * @module
 */

import { Page, type PageContext, WindowForm } from "../layout.tsx";
import { PHASE_COLOURS, PhaseChart, type PhaseSample, utc } from "../charts.tsx";
import type { ProbeStatus } from "../../probe/board.ts";
import { formatLatency } from "../../text_time.ts";

/** The windows a probe page offers, by name. */
export const PROBE_WINDOWS: Record<string, number> = {
  "1h": 3_600_000,
  "6h": 6 * 3_600_000,
  "24h": 24 * 3_600_000,
};

/** Most runs listed under the chart. */
const TABLE_ROWS = 200;

/** The probe page. */
export function ProbePage(
  props: {
    ctx: PageContext;
    status: ProbeStatus;
    window: string;
    since: number;
    until: number;
    samples: PhaseSample[];
  },
) {
  const { t } = props.ctx;
  const p = props.status;
  const recent = props.samples.slice(-TABLE_ROWS).reverse();
  return (
    <Page ctx={props.ctx} title={p.name}>
      <h1>
        {t.probe} {p.name} <span class={`state ${p.state}`} id="state">{t[p.state]}</span>
      </h1>
      <p class="muted">{p.type} {p.target}</p>
      <WindowForm t={t} windows={Object.keys(PROBE_WINDOWS)} chosen={props.window} />
      <h2>{t.latency}</h2>
      <PhaseChart samples={props.samples} since={props.since} until={props.until} />
      <div class="legend">
        {Object.entries(PHASE_COLOURS).map(([k, c]) => (
          <span>
            <svg width="10" height="10">
              <rect width="10" height="10" fill={c} />
            </svg>{" "}
            {k}
          </span>
        ))}
        <span class="err">✕ {t.failed}</span>
      </div>
      <h2>{t.history}</h2>
      <table id="history">
        <thead>
          <tr>
            <th>{t.time}</th>
            <th>{t.result}</th>
            <th class="num">{t.duration}</th>
            <th>{t.phases}</th>
            <th>{t.reason}</th>
          </tr>
        </thead>
        <tbody>
          {recent.map((s) => (
            <tr class={s.ok ? "" : "err"}>
              <td>{utc(s.at)}</td>
              <td>{s.ok ? t.ok : t.failed}</td>
              <td class="num">{formatLatency(s.phases.total)}</td>
              <td class="muted">
                {Object.entries(s.phases).filter(([k]) => k !== "total")
                  .map(([k, v]) => `${k} ${formatLatency(v)}`).join(" · ")}
              </td>
              <td>{s.reason ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
