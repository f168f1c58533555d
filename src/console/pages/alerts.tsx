/**
 * Alerts: firing and pending, the silences in force (expire one), a form to
 * create one (both writes: the write token's session and a CSRF token), and
 * the last day's history.
 *
 * @module
 */

import { Notice, Page, type PageContext } from "../layout.tsx";
import { AlertTable } from "./overview.tsx";
import { utc } from "../charts.tsx";
import type { AlertView } from "../../alerts/engine.ts";
import type { HistoryEntry, Silence } from "../../alerts/state.ts";
import { formatMatcher } from "../../alerts/matchers.ts";
import { labelsText } from "../../alerts/lifecycle.ts";

/** The alerts page. */
export function AlertsPage(
  props: {
    ctx: PageContext;
    now: number;
    alerts: AlertView[];
    silences: Silence[];
    history: HistoryEntry[];
    error?: string;
  },
) {
  const { t, role, csrf } = props.ctx;
  const canWrite = role === "write" && csrf !== undefined;
  return (
    <Page ctx={props.ctx} title={t.alerts} nav="alerts">
      <h1>{t.alerts}</h1>
      {props.error
        ? (
          <Notice>
            <span id="silence-error">{props.error}</span>
          </Notice>
        )
        : null}
      <AlertTable ctx={props.ctx} alerts={props.alerts} now={props.now} />
      <h2>{t.silences}</h2>
      <table id="silences">
        <thead>
          <tr>
            <th>{t.matchers}</th>
            <th>{t.ends}</th>
            <th>{t.author}</th>
            <th>{t.comment}</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.silences.map((s) => (
            <tr data-silence={s.id}>
              <td>{s.matchers.map(formatMatcher).join(", ")}</td>
              <td>{utc(s.ends_at)}</td>
              <td>{s.author}</td>
              <td>{s.comment}</td>
              <td>
                {canWrite && s.origin === "api"
                  ? (
                    <form
                      method="post"
                      action={`/alerts/silences/${encodeURIComponent(s.id)}/expire`}
                    >
                      <input type="hidden" name="csrf" value={csrf} />
                      <button type="submit" class="expire">{t.expire}</button>
                    </form>
                  )
                  : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t.newSilence}</h2>
      {canWrite
        ? (
          <form class="filters" method="post" action="/alerts/silences" id="new-silence">
            <input type="hidden" name="csrf" value={csrf} />
            <label>
              {t.matchers}
              <input name="matchers" placeholder='rule="service-down", probe=~"api.*"' size={36} />
            </label>
            <label>
              {t.duration}
              <input name="duration" value="2h" size={6} />
            </label>
            <label>
              {t.author}
              <input name="author" size={12} />
            </label>
            <label>
              {t.comment}
              <input name="comment" size={24} />
            </label>
            <button type="submit">{t.create}</button>
          </form>
        )
        : (
          <p class="muted">
            <a href="/signin?next=/alerts">{t.needWrite}</a>
          </p>
        )}
      <h2>{t.history24h}</h2>
      <table id="history">
        <thead>
          <tr>
            <th>{t.at}</th>
            <th>{t.event}</th>
            <th>{t.rule}</th>
            <th>{t.labels}</th>
          </tr>
        </thead>
        <tbody>
          {props.history.map((h) => (
            <tr>
              <td>{utc(h.at)}</td>
              <td>{h.event}</td>
              <td>{h.rule}</td>
              <td class="muted">{labelsText(h.labels)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
