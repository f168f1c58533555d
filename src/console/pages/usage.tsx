/**
 * Usage: runs and tokens per app over time, and token sums with p50/p90/p99
 * durations per app and per node type over a chosen window.
 *
 * @module
 */

import { Page, type PageContext, WindowForm } from "../layout.tsx";
import { LineChart } from "../charts.tsx";
import type { UsageResult, UsageSeries } from "../../store/query.ts";
import { formatLatency } from "../../text_time.ts";

/** The windows the usage page offers, with the chart's step. */
export const USAGE_WINDOWS: Record<string, { span: number; step: number }> = {
  "1h": { span: 3_600_000, step: 60_000 },
  "24h": { span: 86_400_000, step: 3_600_000 },
  "7d": { span: 7 * 86_400_000, step: 6 * 3_600_000 },
};

function Groups(props: { ctx: PageContext; title: string; result: UsageResult; id: string }) {
  const { t } = props.ctx;
  return (
    <section id={props.id}>
      <h2>{props.title}</h2>
      <table>
        <thead>
          <tr>
            <th>{props.result.by}</th>
            <th class="num">{t.count}</th>
            <th class="num">{t.errors}</th>
            <th class="num">prompt</th>
            <th class="num">completion</th>
            <th class="num">{t.tokens} ({t.total})</th>
            <th class="num">p50</th>
            <th class="num">p90</th>
            <th class="num">p99</th>
          </tr>
        </thead>
        <tbody>
          {props.result.groups.map((g) => (
            <tr>
              <td>{g.key || "-"}</td>
              <td class="num">{g.count}</td>
              <td class={`num${g.errors ? " err" : ""}`}>{g.errors}</td>
              <td class="num">{g.prompt_tokens}</td>
              <td class="num">{g.completion_tokens}</td>
              <td class="num">{g.total_tokens}</td>
              <td class="num">{formatLatency(g.latency_ms.p50)}</td>
              <td class="num">{formatLatency(g.latency_ms.p90)}</td>
              <td class="num">{formatLatency(g.latency_ms.p99)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The usage page. */
export function UsagePage(
  props: {
    ctx: PageContext;
    window: string;
    series: UsageSeries;
    byApp: UsageResult;
    byNode: UsageResult;
  },
) {
  const { t } = props.ctx;
  return (
    <Page ctx={props.ctx} title={t.usage} nav="usage">
      <h1>{t.usage}</h1>
      <WindowForm t={t} windows={Object.keys(USAGE_WINDOWS)} chosen={props.window} />
      <h2>{t.tokensOverTime}</h2>
      <LineChart
        starts={props.series.starts}
        series={props.series.apps.map((a) => ({ name: a.app_id || "-", points: a.total_tokens }))}
      />
      <Groups ctx={props.ctx} title={t.runsByApp} result={props.byApp} id="by-app" />
      <Groups ctx={props.ctx} title={t.byNodeType} result={props.byNode} id="by-node" />
    </Page>
  );
}
