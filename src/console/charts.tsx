/**
 * The console's charts, drawn on the server as inline SVG: no script, no
 * library, and nothing for a Content-Security-Policy to allow. Hovering a
 * part shows its `<title>`.
 *
 * @module
 */

import type { Text } from "./i18n.ts";
import { formatLatency } from "../text_time.ts";
import type { ProbePhases } from "../probe/types.ts";

/** A UTC time as `2026-11-26 10:15:03Z`. */
export function utc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + "Z";
}

/** One slice of an uptime bar. */
export interface UptimeSlice {
  start: number;
  end: number;
  checks: number;
  failures: number;
}

/** An uptime bar: one block per slice, green, amber (some failed), red (most failed) or grey (no data, one block per gap). */
export function UptimeBar(props: { slices: UptimeSlice[]; t: Text }) {
  const w = 5;
  const { slices, t } = props;
  const blocks: { from: number; to: number; slice: UptimeSlice; end: number }[] = [];
  slices.forEach((s, i) => {
    const last = blocks.at(-1);
    if (s.checks === 0 && last && last.slice.checks === 0) {
      last.to = i;
      last.end = s.end;
    } else blocks.push({ from: i, to: i, slice: s, end: s.end });
  });
  const hhmm = (ms: number) => utc(ms).slice(11, 16);
  return (
    <svg
      class="bar"
      width={slices.length * w}
      height="22"
      viewBox={`0 0 ${slices.length * w} 22`}
      role="img"
    >
      {blocks.map((b) => {
        const s = b.slice;
        const cls = s.checks === 0
          ? "s-none"
          : s.failures === 0
          ? "s-ok"
          : s.failures * 2 < s.checks
          ? "s-some"
          : "s-bad";
        const what = s.checks === 0
          ? t.noData
          : `${s.checks} ${t.checks}, ${s.failures} ${t.failures}`;
        return (
          <rect
            class={cls}
            x={b.from * w}
            y="0"
            width={(b.to - b.from + 1) * w - 1}
            height="22"
            data-checks={s.checks}
            data-failures={s.failures}
          >
            <title>{`${utc(s.start).slice(5, 16)}–${hhmm(b.end)}Z ${what}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

/** One probe run for the phase chart. */
export interface PhaseSample {
  at: number;
  ok: boolean;
  reason?: string;
  phases: ProbePhases;
}

const PHASES = ["dns", "connect", "tls", "first_byte", "first_event", "total"] as const;
/** The phases' colours, in drawing order. */
export const PHASE_COLOURS: Record<(typeof PHASES)[number], string> = {
  dns: "#9e77ed",
  connect: "#2e90fa",
  tls: "#16b364",
  first_byte: "#f79009",
  first_event: "#ee46bc",
  total: "#98a2b3",
};

/**
 * Latency over a window with the phases stacked (each phase's part of the
 * run: dns, then connect, tls, first byte, first event, the rest), one column
 * per run or per group of runs when there are more runs than columns; failed
 * runs are marked with a red cross naming the reason.
 */
export function PhaseChart(props: { samples: PhaseSample[]; since: number; until: number }) {
  const W = 1000, H = 220, L = 56, B = 20, T = 10;
  const cols = Math.min(250, Math.max(1, props.samples.length));
  const buckets: PhaseSample[][] = Array.from({ length: cols }, () => []);
  const span = Math.max(1, props.until - props.since);
  for (const s of props.samples) {
    const i = Math.min(cols - 1, Math.max(0, Math.floor(((s.at - props.since) / span) * cols)));
    buckets[i].push(s);
  }
  const columns = buckets.map((b) => {
    const ok = b.filter((s) => s.ok);
    const mean = (k: (typeof PHASES)[number]) => {
      const v = ok.map((s) => s.phases[k]).filter((x): x is number => x !== undefined);
      return v.length ? v.reduce((a, x) => a + x, 0) / v.length : undefined;
    };
    return {
      runs: b.length,
      failed: b.filter((s) => !s.ok),
      at: b[0]?.at,
      ends: PHASES.map((k) => mean(k)),
    };
  });
  const max = Math.max(1, ...columns.map((c) => c.ends[5] ?? 0));
  const y = (v: number) => T + (H - T - B) * (1 - v / max);
  const cw = (W - L) / cols;
  return (
    <svg width="100%" viewBox={`0 0 ${W} ${H}`} role="img" class="phases">
      {[0, 0.5, 1].map((f) => (
        <g>
          <line class="grid" x1={L} x2={W} y1={y(max * f)} y2={y(max * f)} />
          <text x={L - 4} y={y(max * f) + 4} text-anchor="end">{formatLatency(max * f)}</text>
        </g>
      ))}
      <text x={L} y={H - 4}>{utc(props.since)}</text>
      <text x={W} y={H - 4} text-anchor="end">{utc(props.until)}</text>
      {columns.map((c, i) => {
        if (!c.runs) return null;
        const x = L + i * cw;
        let prev = 0;
        const parts = PHASES.map((k, j) => {
          const end = c.ends[j];
          if (end === undefined || end < prev) return null;
          const part = (
            <rect
              x={x}
              y={y(end)}
              width={Math.max(1, cw - 1)}
              height={Math.max(0, y(prev) - y(end))}
              fill={PHASE_COLOURS[k]}
            >
              <title>{`${utc(c.at!)} ${k}: ${formatLatency(end)} (${c.runs})`}</title>
            </rect>
          );
          prev = end;
          return part;
        });
        return (
          <g>
            {parts}
            {c.failed.length
              ? (
                <text class="fail" x={x + cw / 2} y={T + 8} text-anchor="middle">
                  ✕<title>
                    {`${utc(c.failed[0].at)} ${c.failed.length}× ${c.failed[0].reason ?? ""}`}
                  </title>
                </text>
              )
              : null}
          </g>
        );
      })}
    </svg>
  );
}

/** One bar of a waterfall: a node (or a span) with its offset from the run's start. */
export interface WaterfallRow {
  label: string;
  /** The colour group (a node's type). */
  group: string;
  /** Offset from the run's start, ms. */
  start: number;
  /** Duration, ms; undefined for a node that never ended (drawn to the run's end). */
  duration?: number;
  failed?: boolean;
  kind: "node" | "span";
  title: string;
  /** A link id (the node's anchor on the page). */
  anchor?: string;
}

const PALETTE = [
  "#2e90fa",
  "#16b364",
  "#9e77ed",
  "#f79009",
  "#ee46bc",
  "#06aed4",
  "#66c61c",
  "#6172f3",
  "#ef6820",
  "#875bf7",
];

/** The colour of a node type: stable across pages and runs. */
export function groupColour(group: string): string {
  let h = 0;
  for (let i = 0; i < group.length; i++) h = (h * 31 + group.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/**
 * A run's waterfall: one row per node in the order given (execution order),
 * its bar from its start offset for its duration on the run's time axis,
 * coloured by node type; failed nodes outlined red with a cross; the
 * first-frame mark as a dashed line; the linked spans below in grey.
 */
export function Waterfall(
  props: { rows: WaterfallRow[]; total: number; firstFrame?: number; t: Text },
) {
  const W = 1100, L = 240, RH = 18, TOP = 18;
  const total = Math.max(1, props.total);
  const x = (ms: number) => L + ((W - L - 10) * Math.max(0, ms)) / total;
  const H = TOP + props.rows.length * RH + 6;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <svg
      width="100%"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      class="waterfall"
      data-rows={props.rows.length}
    >
      {ticks.map((f) => (
        <g>
          <line class="grid" x1={x(total * f)} x2={x(total * f)} y1={TOP - 4} y2={H} />
          <text x={x(total * f)} y={12} text-anchor={f === 1 ? "end" : "middle"}>
            {formatLatency(total * f)}
          </text>
        </g>
      ))}
      {props.rows.map((r, i) => {
        const y = TOP + i * RH;
        const end = r.duration === undefined ? total : r.start + r.duration;
        const label = r.label.length > 34 ? r.label.slice(0, 33) + "…" : r.label;
        return (
          <g
            class={`row ${r.kind}${r.failed ? " failed" : ""}`}
            data-kind={r.kind}
            data-start={r.start}
            data-failed={r.failed ? "1" : "0"}
          >
            <text class="node-label" x={4} y={y + 13}>
              {r.anchor ? <a href={`#${r.anchor}`}>{label}</a> : label}
            </text>
            <rect
              class={`${r.kind}${r.failed ? " failed" : ""}${
                r.duration === undefined ? " unended" : ""
              }`}
              x={x(r.start)}
              y={y + 3}
              width={Math.max(2, x(end) - x(r.start))}
              height={RH - 6}
              fill={r.kind === "node" ? groupColour(r.group) : undefined}
              fill-opacity={r.duration === undefined ? "0.45" : undefined}
            >
              <title>{r.title}</title>
            </rect>
            {r.failed
              ? <text class="failmark" x={x(end) + 4} y={y + 13}>✕ {props.t.node_failed}</text>
              : null}
          </g>
        );
      })}
      {props.firstFrame !== undefined && props.firstFrame > 0
        ? (
          <line class="ff" x1={x(props.firstFrame)} x2={x(props.firstFrame)} y1={TOP - 4} y2={H}>
            <title>{`${props.t.firstFrame}: ${formatLatency(props.firstFrame)}`}</title>
          </line>
        )
        : null}
    </svg>
  );
}

/** A line per series over shared time buckets, with a legend. */
export function LineChart(
  props: { series: { name: string; points: number[] }[]; starts: number[]; unit?: string },
) {
  const W = 1000, H = 200, L = 60, B = 20, T = 10;
  const n = props.starts.length;
  const max = Math.max(1, ...props.series.flatMap((s) => s.points));
  const x = (i: number) => L + (n <= 1 ? 0 : ((W - L - 10) * i) / (n - 1));
  const y = (v: number) => T + (H - T - B) * (1 - v / max);
  return (
    <div>
      <svg width="100%" viewBox={`0 0 ${W} ${H}`} role="img">
        {[0, 0.5, 1].map((f) => (
          <g>
            <line class="grid" x1={L} x2={W} y1={y(max * f)} y2={y(max * f)} />
            <text x={L - 4} y={y(max * f) + 4} text-anchor="end">
              {Math.round(max * f).toLocaleString("en")}
            </text>
          </g>
        ))}
        {n ? <text x={L} y={H - 4}>{utc(props.starts[0])}</text> : null}
        {n ? <text x={W - 10} y={H - 4} text-anchor="end">{utc(props.starts[n - 1])}</text> : null}
        {props.series.map((s) => (
          <polyline
            fill="none"
            stroke={groupColour(s.name)}
            stroke-width="2"
            points={s.points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}
          >
            <title>{s.name}</title>
          </polyline>
        ))}
      </svg>
      <div class="legend">
        {props.series.map((s) => (
          <span>
            <svg width="10" height="10">
              <rect width="10" height="10" fill={groupColour(s.name)} />
            </svg>{" "}
            {s.name}
          </span>
        ))}
      </div>
    </div>
  );
}
