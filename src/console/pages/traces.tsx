/**
 * The workflow runs: the API's filters (app, status, time, text) as a form,
 * one page of runs, and the cursor to the next. A filter the API would
 * refuse shows the API's message beside the form.
 *
 * @module
 */

import { Notice, Page, type PageContext } from "../layout.tsx";
import { utc } from "../charts.tsx";
import type { ListResult } from "../../store/query.ts";
import { formatLatency } from "../../text_time.ts";

/** The filter fields the form keeps. */
export const TRACE_FILTERS = ["app_id", "status", "since", "until", "q"] as const;

/** The runs page. */
export function TracesPage(
  props: {
    ctx: PageContext;
    filters: Record<string, string>;
    result?: ListResult;
    error?: string;
  },
) {
  const { t } = props.ctx;
  const f = props.filters;
  const next = props.result?.next_cursor
    ? "/runs?" + new URLSearchParams({ ...f, cursor: props.result.next_cursor })
    : undefined;
  return (
    <Page ctx={props.ctx} title={t.traces} nav="traces">
      <h1>{t.traces}</h1>
      <form class="filters" method="get" action="/runs">
        <label>
          {t.app}
          <input name="app_id" value={f.app_id ?? ""} size={14} />
        </label>
        <label>
          {t.status}
          <select name="status">
            <option value="" selected={!f.status}>{t.any}</option>
            <option value="error" selected={f.status === "error"}>{t.error}</option>
            <option value="ok" selected={f.status === "ok"}>{t.ok}</option>
          </select>
        </label>
        <label>
          {t.since}
          <input name="since" value={f.since ?? ""} placeholder="24h / 2026-11-26" size={14} />
        </label>
        <label>
          {t.until}
          <input name="until" value={f.until ?? ""} size={14} />
        </label>
        <label>
          {t.search}
          <input name="q" value={f.q ?? ""} placeholder="Timeout" size={18} />
        </label>
        <button type="submit" id="filter">{t.filter}</button>
      </form>
      {props.error
        ? (
          <Notice>
            {t.badQuery}: <span id="query-error">{props.error}</span>
          </Notice>
        )
        : null}
      {props.result && !props.result.runs.length ? <p class="muted">{t.noRuns}</p> : null}
      {props.result?.runs.length
        ? (
          <table id="runs">
            <thead>
              <tr>
                <th>{t.time}</th>
                <th>sid</th>
                <th>{t.app}</th>
                <th>{t.status}</th>
                <th class="num">{t.duration}</th>
                <th class="num">{t.firstFrame}</th>
                <th class="num">{t.tokens}</th>
                <th class="num">{t.nodes}</th>
                <th>{t.question}</th>
              </tr>
            </thead>
            <tbody>
              {props.result.runs.map((r) => (
                <tr data-sid={r.sid}>
                  <td>{utc(r.start_time)}</td>
                  <td>
                    <a href={`/runs/${encodeURIComponent(r.sid)}`}>{r.sid}</a>
                  </td>
                  <td>{r.app_id}</td>
                  <td>
                    <span class={`state ${r.error ? "error" : "ok"}`}>
                      {r.error ? `${t.error} ${r.status_code}` : t.ok}
                    </span>
                    {r.error_log ? <span class="err">ERROR</span> : null}
                  </td>
                  <td class="num">{formatLatency(r.duration)}</td>
                  <td class="num">{formatLatency(r.first_frame_duration)}</td>
                  <td class="num">{r.usage.total_tokens}</td>
                  <td class="num">{r.node_count}</td>
                  <td>{r.question.length > 80 ? r.question.slice(0, 79) + "…" : r.question}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
        : null}
      {next
        ? (
          <p>
            <a href={next} id="next">{t.next} →</a>
          </p>
        )
        : null}
    </Page>
  );
}
