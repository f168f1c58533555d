/**
 * The access-log report as terminal text (`access-log report --format
 * text`): summary lines, then tables with plain ASCII borders, numbers
 * right-aligned with thousands separators, top lists cut to 10 rows and one
 * example per suspicious reason.
 *
 * Every string that came from the log is made visible before it is printed:
 * control characters and bidi overrides become `\xNN`/`\u{NNNN}`, so a user
 * agent carrying an ANSI escape cannot repaint the operator's terminal.
 *
 * The number formatters are shared with `report_html.ts`.
 *
 * @module
 */

import type { AccessReport, RouteStats, SuspiciousGroup, TopEntry } from "./report_schema.ts";
import { formatLatency } from "../text_time.ts";

/** Rows shown per top list. */
const TOP_ROWS = 10;
/** Rows shown of the 5xx bursts. */
const BURST_ROWS = 10;
/** Unparsed lines shown. */
const SAMPLE_ROWS = 5;
/** Longest cell (paths, user agents), in characters. */
const CELL_MAX = 70;

/**
 * `n` rounded, with thousands separators; `-` when not a finite number.
 *
 * @example
 * ```ts
 * import { formatCount } from "./report_text.ts";
 * formatCount(1234567); // "1,234,567"
 * ```
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "-";
  const r = Math.round(n);
  const digits = String(Math.abs(r)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return r < 0 ? `-${digits}` : digits;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A byte count in powers of 1024, three significant digits: `1.21 GiB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./report_text.ts";
 * formatBytes(1536); // "1.50 KiB"
 * ```
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  let v = n;
  let unit = 0;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  if (unit === 0) return `${formatCount(v)} B`;
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${BYTE_UNITS[unit]}`;
}

/** `part` as a percentage of `whole` (`12.3%`), or `-` when `whole` is 0. */
export function formatShare(part: number, whole: number): string {
  if (!(whole > 0) || !Number.isFinite(part)) return "-";
  return `${(part / whole * 100).toFixed(1)}%`;
}

/** Milliseconds: `3.25ms`, `120ms`, `1.50s`; `-` when missing. */
export const formatMs = formatLatency;

/** An ISO time for reading: `2026-11-25 14:03:07Z` (the input back when it does not parse). */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** The time from `first` to `last` as `2d 3h 4m` (`""` when either does not parse). */
export function formatDuration(first: string, last: string): string {
  const ms = Date.parse(last) - Date.parse(first);
  if (!Number.isFinite(ms) || ms < 0) return "";
  const m = Math.round(ms / 60_000);
  if (m < 1) return `${Math.round(ms / 1000)}s`;
  const parts = [[Math.floor(m / 1440), "d"], [Math.floor(m / 60) % 24, "h"], [m % 60, "m"]];
  return parts.filter(([n]) => n).map(([n, u]) => `${n}${u}`).join(" ");
}

// deno-lint-ignore no-control-regex
const INVISIBLE = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * Text from the log with its control characters and bidi overrides spelled
 * out (`\x1b`, `\u{202e}`), safe to print on a terminal or a page.
 */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

/** `s` made visible and cut to `max` characters, `...` marking the cut. */
function cell(s: string, max = CELL_MAX): string {
  const chars = [...visible(s)];
  return chars.length > max ? chars.slice(0, max - 3).join("") + "..." : chars.join("");
}

interface Column {
  title: string;
  right?: boolean;
}

/** Rows under a header, in `+---+` borders; `right` columns aligned right. */
function boxTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const width = (s: string) => [...s].length;
  const widths = columns.map((c, i) =>
    rows.reduce((w, r) => Math.max(w, width(r[i] ?? "")), width(c.title))
  );
  const rule = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
  const line = (cells: readonly string[]) =>
    "| " + columns.map((c, i) => {
      const v = cells[i] ?? "";
      const pad = " ".repeat(widths[i] - width(v));
      return c.right ? pad + v : v + pad;
    }).join(" | ") + " |";
  return [rule, line(columns.map((c) => c.title)), rule, ...rows.map(line), rule].join("\n") +
    "\n";
}

/** A titled block, or nothing when `body` is empty. */
function section(title: string, body: string): string {
  return body ? `\n${title}\n${body}` : "";
}

function summary(r: AccessReport): string {
  const c = r.status_classes;
  const lines = [
    `astron-watch access-log report (${r.schema})`,
    `files        ${r.files.map((f) => cell(f)).join(", ") || "(stdin)"}`,
    `generated    ${formatTime(r.generated_at)}`,
  ];
  if (r.since || r.until) {
    lines.push(
      `window       ${r.since ? formatTime(r.since) : "start"} .. ${
        r.until ? formatTime(r.until) : "end"
      }`,
    );
  }
  if (r.first && r.last) {
    const d = formatDuration(r.first, r.last);
    lines.push(`span         ${formatTime(r.first)} .. ${formatTime(r.last)}${d ? ` (${d})` : ""}`);
  }
  lines.push(
    `requests     ${formatCount(r.requests)}   visitors ${formatCount(r.visitors)}   bytes ${
      formatBytes(r.bytes)
    }`,
    `status       ${
      (["2xx", "3xx", "4xx", "5xx", "1xx"] as const)
        .filter((k) => k !== "1xx" || c[k])
        .map((k) => `${k} ${formatCount(c[k])} (${formatShare(c[k], r.requests)})`)
        .join("   ")
    }`,
  );
  if (r.request_time_ms) {
    const t = r.request_time_ms;
    lines.push(
      `request time p50 ${formatMs(t.p50)}   p90 ${formatMs(t.p90)}   p99 ${formatMs(t.p99)}` +
        `   (${formatCount(t.count)} timed)`,
    );
  }
  lines.push(linesLine(r), busiestHour(r));
  if (r.requests === 0) lines.push("no requests counted");
  return lines.filter((l) => l).join("\n") + "\n";
}

function linesLine(r: AccessReport): string {
  const l = r.lines;
  return `lines        ${formatCount(l.total)} read, ${formatCount(l.parsed)} parsed, ` +
    `${formatCount(l.unparsed)} unparsed, ${formatCount(l.cut)} cut, ` +
    `${formatCount(l.binary)} binary, ${formatCount(l.outside_window)} outside the window`;
}

function busiestHour(r: AccessReport): string {
  const top = r.hours.reduce<AccessReport["hours"][number] | undefined>(
    (best, h) => !best || h.requests > best.requests ? h : best,
    undefined,
  );
  if (!top || top.requests === 0) return "";
  return `busiest hour ${formatTime(top.hour)}: ${formatCount(top.requests)} requests, ` +
    `${formatCount(top.errors_5xx)} 5xx`;
}

function routesTable(r: AccessReport): string {
  if (!r.routes.length) return "";
  const timed = r.routes.some((x) => x.request_time_ms);
  const columns: Column[] = [
    { title: "ROUTE" },
    { title: "REQUESTS", right: true },
    { title: "SHARE", right: true },
    { title: "BYTES", right: true },
    { title: "4XX", right: true },
    { title: "5XX", right: true },
    ...(timed ? ["P50", "P90", "P99"].map((title) => ({ title, right: true })) : []),
  ];
  const row = (x: RouteStats) => [
    cell(x.route),
    formatCount(x.requests),
    formatShare(x.requests, r.requests),
    formatBytes(x.bytes),
    formatCount(x.errors_4xx),
    formatCount(x.errors_5xx),
    ...(timed
      ? [
        formatMs(x.request_time_ms?.p50),
        formatMs(x.request_time_ms?.p90),
        formatMs(x.request_time_ms?.p99),
      ]
      : []),
  ];
  return boxTable(columns, r.routes.map(row));
}

function statusTable(r: AccessReport): string {
  if (!r.statuses.length) return "";
  const rows = r.statuses.map((s) => [
    String(s.status),
    formatCount(s.requests),
    formatShare(s.requests, r.requests),
    formatBytes(s.bytes),
  ]);
  const methods = r.methods.map((m) => `${cell(m.method, 20)} ${formatCount(m.requests)}`);
  return boxTable(
    [{ title: "STATUS" }, { title: "REQUESTS", right: true }, { title: "SHARE", right: true }, {
      title: "BYTES",
      right: true,
    }],
    rows,
  ) + (methods.length ? `methods: ${methods.join(", ")}\n` : "");
}

/** A top list's first 10 rows, with a `±` column when any count is an upper bound. */
function topTable(title: string, entries: readonly TopEntry[]): string {
  if (!entries.length) return "";
  const bounded = entries.some((e) => e.error > 0);
  const shown = entries.slice(0, TOP_ROWS);
  const rows = shown.map((e, i) => [
    String(i + 1),
    cell(e.value || "-"),
    formatCount(e.requests),
    ...(bounded ? [e.error > 0 ? `±${formatCount(e.error)}` : ""] : []),
    formatBytes(e.bytes),
  ]);
  const columns: Column[] = [
    { title: "#", right: true },
    { title: title.toUpperCase() },
    { title: "REQUESTS", right: true },
    ...(bounded ? [{ title: "±", right: true }] : []),
    { title: "BYTES", right: true },
  ];
  const more = entries.length > TOP_ROWS
    ? `(${formatCount(entries.length - TOP_ROWS)} more in the json and html reports)\n`
    : "";
  return boxTable(columns, rows) + more;
}

function topTables(r: AccessReport): string {
  const lists: [string, string, TopEntry[]][] = [
    ["Top paths", "path", r.top.paths],
    ["Top 404 paths", "path", r.top.not_found],
    ["Top clients", "client", r.top.clients],
    ["Top user agents", "user agent", r.top.user_agents],
    ["Top referers", "referer", r.top.referers],
  ];
  return lists.map(([title, column, entries]) => section(title, topTable(column, entries))).join(
    "",
  );
}

function suspiciousText(groups: readonly SuspiciousGroup[]): string {
  if (!groups.length) return "none flagged\n";
  return groups.map((g) => {
    const head = `  ${cell(g.reason, 30)}: ${formatCount(g.requests)} requests from ` +
      `${formatCount(g.clients)} client${g.clients === 1 ? "" : "s"}`;
    const e = g.examples[0];
    return e
      ? `${head}\n    e.g. ${formatTime(e.time)} ${cell(e.client, 45)} "${
        cell(e.request, 90)
      }" ${e.status}\n`
      : `${head}\n`;
  }).join("");
}

function burstsTable(r: AccessReport): string {
  if (!r.bursts.length) return "none\n";
  const rows = r.bursts.slice(0, BURST_ROWS).map((b) => [
    formatTime(b.start),
    formatTime(b.end),
    formatCount(b.requests),
    formatCount(b.errors_5xx),
    formatShare(b.errors_5xx, b.requests),
  ]);
  const more = r.bursts.length > BURST_ROWS
    ? `(${formatCount(r.bursts.length - BURST_ROWS)} more)\n`
    : "";
  return boxTable(
    [
      { title: "START" },
      { title: "END" },
      ...["REQUESTS", "5XX", "SHARE"].map((title) => ({
        title,
        right: true,
      })),
    ],
    rows,
  ) + more;
}

function unparsedText(r: AccessReport): string {
  if (!r.lines.unparsed) return "";
  const samples = r.lines.unparsed_samples.slice(0, SAMPLE_ROWS).map((s) => `  ${cell(s, 120)}\n`);
  return `${formatCount(r.lines.unparsed)} lines did not match the log_format; samples:\n` +
    samples.join("");
}

/**
 * The report as terminal text: a summary, then routes, status codes, the top
 * lists (10 rows each), suspicious requests (one example per reason), 5xx
 * bursts and unparsed samples. Lines end in `\n`; a count that is an upper
 * bound shows its bound as `±N`.
 *
 * @example
 * ```ts ignore
 * import { renderReportText } from "./report_text.ts";
 * console.log(renderReportText(report));
 * ```
 */
export function renderReportText(report: AccessReport): string {
  return summary(report) +
    section("Routes", routesTable(report)) +
    section("Status codes", statusTable(report)) +
    topTables(report) +
    section("Suspicious requests", suspiciousText(report.suspicious)) +
    section("5xx bursts", burstsTable(report)) +
    section("Unparsed lines", unparsedText(report)) +
    (report.visitors_note ? `\nvisitors: ${cell(report.visitors_note, 200)}\n` : "");
}
