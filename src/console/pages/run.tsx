/**
 * A workflow run: the node timeline (a waterfall on the run's time axis, the
 * linked OTLP spans below it), token usage, and each node's inputs, outputs
 * and config collapsed, its log lines open. Nodes come a page at a time, and
 * a field is sent shortened: the whole field and offloaded texts are fetched
 * only when asked for.
 *
 * @module
 */

import { Page, type PageContext } from "../layout.tsx";
import { utc, Waterfall, type WaterfallRow } from "../charts.tsx";
import type { RunDetail } from "../../store/query.ts";
import type { NodeLog } from "../../workflow/record.ts";
import type { SidLogLine } from "../../service_logs/by_sid.ts";
import { linkHash } from "../../store/blobs.ts";
import { formatLatency } from "../../text_time.ts";
import { nodeType } from "../../store/rows.ts";
import { nanosToMs } from "../../rollups/series.ts";

/** Nodes on one run page. */
export const RUN_PAGE_NODES = 200;
/** Most characters of one field sent inline. */
const PREVIEW_CHARS = 1500;
/** A node's fields shown collapsed (and served whole on request). */
export const FIELDS = ["input", "output", "config"] as const;
/** Most spans drawn on the timeline. */
const SPAN_ROWS = 200;

/** A node's duration in ms, or undefined when it never ended (`[0]`, no end time). */
export function nodeDuration(n: NodeLog): number | undefined {
  if (Array.isArray(n.duration)) return undefined;
  if (typeof n.duration === "number" && (n.duration > 0 || n.end_time)) return n.duration;
  if (n.start_time !== undefined && n.end_time) return n.end_time - n.start_time;
  return undefined;
}

/** A failed node: `running_status: false`. */
const failed = (n: NodeLog) => n.running_status === false;

/** The blob hashes a value links to, anywhere inside it. */
function blobLinks(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    const h = linkHash(value);
    if (h) out.add(h);
  } else if (Array.isArray(value)) {
    for (const v of value) blobLinks(v, out);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) blobLinks(v, out);
  }
  return out;
}

function Field(
  props: { ctx: PageContext; name: string; label: string; value: unknown; href: string },
) {
  if (props.value === undefined) return null;
  const text = JSON.stringify(props.value, null, 2) ?? "";
  const short = text.length > PREVIEW_CHARS;
  const blobs = [...blobLinks(props.value)];
  return (
    <details class="field" data-field={props.name}>
      <summary>
        {props.label} <span class="muted">({text.length.toLocaleString("en")} chars)</span>
      </summary>
      <pre>{short ? text.slice(0, PREVIEW_CHARS) + "\n…" : text}</pre>
      {short
        ? (
          <a href={props.href} target="_blank">
            {props.ctx.t.fullField} ({props.ctx.t.truncated})
          </a>
        )
        : null}
      {blobs.map((h) => (
        <details data-blob={h}>
          <summary class="muted">{props.ctx.t.loadBlob}: {h.slice(0, 12)}</summary>
          <pre></pre>
        </details>
      ))}
    </details>
  );
}

/** A node's log entries (JSON with a `level`): ERROR and CRITICAL ones marked. */
const ERROR_ENTRY = /"level"\s*:\s*"(ERROR|CRITICAL)"/;

function LogLines(props: { lines: { text: string; error: boolean }[] }) {
  return (
    <pre class="logs">
      {props.lines.map((l) => (
        <div class={l.error ? "lvl-error" : ""}>
          {l.text.length > 2000 ? l.text.slice(0, 2000) + "…" : l.text}
        </div>
      ))}
    </pre>
  );
}

/** The run page. */
export function RunPage(
  props: { ctx: PageContext; run: RunDetail; logLines: SidLogLine[] },
) {
  const { t } = props.ctx;
  const { run } = props;
  const rec = run.record;
  const nodes = rec.trace ?? [];
  const start = rec.start_time;
  const nodeEnds = nodes.map((n) => (n.start_time ?? start) + (nodeDuration(n) ?? 0) - start);
  const total = Math.max(
    rec.duration ?? 0,
    rec.end_time ? rec.end_time - start : 0,
    ...nodeEnds,
    1,
  );
  const offset = run.nodes.offset;
  const rows: WaterfallRow[] = nodes.map((n, i) => {
    const d = nodeDuration(n);
    const type = nodeType(n) || "node";
    const name = n.node_name || n.node_id || n.id;
    return {
      kind: "node",
      label: `${offset + i + 1}. ${name}`,
      group: type,
      start: (n.start_time ?? start) - start,
      duration: d,
      failed: failed(n),
      anchor: `node-${offset + i}`,
      title: `${name} (${type}) +${formatLatency((n.start_time ?? start) - start)} ` +
        (d === undefined ? t.unended : formatLatency(d)) + (failed(n) ? ` ✕ ${t.node_failed}` : ""),
    };
  });
  for (const s of run.spans.slice(0, SPAN_ROWS)) {
    const from = nanosToMs(s.start_time_unix_nano);
    const to = nanosToMs(s.end_time_unix_nano);
    if (!Number.isFinite(from)) continue;
    rows.push({
      kind: "span",
      label: `⟂ ${s.name}`,
      group: "span",
      start: from - start,
      duration: Number.isFinite(to) ? Math.max(0, to - from) : undefined,
      failed: s.status.code === 2,
      title: `${s.name} ${formatLatency(to - from)} ${s.status.message ?? ""}`,
    });
  }
  const usage = rec.usage ?? {};
  const page = (o: number) => `/runs/${encodeURIComponent(run.sid)}?node_offset=${o}`;
  const prev = offset > 0 ? Math.max(0, offset - RUN_PAGE_NODES) : undefined;
  const error = rec.status?.code !== undefined && rec.status.code !== 0;
  return (
    <Page ctx={props.ctx} title={`${t.run} ${run.sid}`} nav="traces">
      <h1>
        {t.run} <span id="sid">{run.sid}</span>{" "}
        <span class={`state ${error ? "error" : "ok"}`}>
          {error ? `${t.error} ${rec.status?.code}` : t.ok}
        </span>
      </h1>
      <table>
        <tbody>
          <tr>
            <th>{t.app}</th>
            <td>{rec.app_id ?? ""}</td>
            <th>{t.start}</th>
            <td>{utc(start)}</td>
            <th>{t.duration}</th>
            <td>{formatLatency(total)}</td>
            <th>{t.firstFrame}</th>
            <td>
              {rec.first_frame_duration && rec.first_frame_duration > 0
                ? formatLatency(rec.first_frame_duration)
                : "-"}
            </td>
          </tr>
          <tr>
            <th>{t.tokens}</th>
            <td id="total-tokens">{usage.total_tokens ?? 0}</td>
            <td colspan={2} class="muted">
              prompt {usage.prompt_tokens ?? 0} · completion {usage.completion_tokens ?? 0}
            </td>
            <th>{t.nodes}</th>
            <td>{run.nodes.total}</td>
            <th>{t.status}</th>
            <td>{rec.status?.message ?? ""}</td>
          </tr>
          {rec.question
            ? (
              <tr>
                <th>{t.question}</th>
                <td colspan={7}>{rec.question.slice(0, 500)}</td>
              </tr>
            )
            : null}
        </tbody>
      </table>
      <h2>
        {t.timeline}{" "}
        <span class="muted">
          {t.nodesPage} {offset + 1}–{offset + nodes.length} {t.allNodes} {run.nodes.total}
          {run.spans_total ? ` · ${t.spans}: ${run.spans_total}` : ""}
        </span>
      </h2>
      <Waterfall rows={rows} total={total} firstFrame={rec.first_frame_duration} t={t} />
      <p>
        {prev !== undefined ? <a href={page(prev)} id="prev-nodes">← {t.previous}</a> : null}{" "}
        {run.nodes.next_offset !== null
          ? <a href={page(run.nodes.next_offset)} id="next-nodes">{t.next} →</a>
          : null}
      </p>
      <h2>{t.nodes}</h2>
      <table id="nodes">
        <thead>
          <tr>
            <th>#</th>
            <th>{t.node}</th>
            <th>{t.type}</th>
            <th class="num">{t.start}</th>
            <th class="num">{t.duration}</th>
            <th class="num">{t.tokens}</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n, i) => {
            const idx = offset + i;
            const d = nodeDuration(n);
            const field = (name: string) =>
              `/runs/${encodeURIComponent(run.sid)}/nodes/${idx}/${name}`;
            return (
              <tr
                id={`node-${idx}`}
                class={failed(n) ? "err" : ""}
                data-failed={failed(n) ? "1" : "0"}
              >
                <td>{idx + 1}</td>
                <td>
                  {n.node_name || n.node_id || n.id}
                  {FIELDS.map((name) => (
                    <Field
                      ctx={props.ctx}
                      name={name}
                      label={t[name]}
                      value={n.data?.[name]}
                      href={field(name)}
                    />
                  ))}
                  {n.logs?.length
                    ? (
                      <LogLines
                        lines={n.logs.map((text) => ({ text, error: ERROR_ENTRY.test(text) }))}
                      />
                    )
                    : null}
                </td>
                <td>{nodeType(n)}</td>
                <td class="num">+{formatLatency((n.start_time ?? start) - start)}</td>
                <td class="num">{d === undefined ? t.unended : formatLatency(d)}</td>
                <td class="num">{n.data?.usage?.total_tokens ?? ""}</td>
                <td>{failed(n) ? <span class="err">✕ {t.node_failed}</span> : null}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {props.logLines.length
        ? (
          <section>
            <h2>{t.serviceLog}</h2>
            <LogLines
              lines={props.logLines.map((l) => ({
                text: `${l.at} ${l.log} ${l.line}`,
                error: l.level === "ERROR" || l.level === "CRITICAL",
              }))}
            />
          </section>
        )
        : null}
    </Page>
  );
}
