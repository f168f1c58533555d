/**
 * The access-log report, `astron-watch.access-report/v1`: what
 * `access-log report --format json` prints and what the text and HTML forms
 * show. The schema is stable: fields may be added, never renamed or removed.
 *
 * @module
 */

/** The schema's name and version, in every report's `schema` field. */
export const REPORT_SCHEMA = "astron-watch.access-report/v1";

/** One entry of a top-N list. */
export interface TopEntry {
  value: string;
  requests: number;
  bytes: number;
  /** Most the count may be over (0: exact). Lists keep a bounded number of keys. */
  error: number;
}

/** Requests flagged for one reason. */
export interface SuspiciousGroup {
  /** `path_traversal`, `sql_injection`, `command_injection`, `dotfile`, `oversized_url`, `scanner_agent`, `not_found_storm`. */
  reason: string;
  requests: number;
  /** Distinct clients among them (exact up to the kept examples' bound). */
  clients: number;
  /** The first few, as logged. */
  examples: { time: string; client: string; request: string; status: number }[];
}

/** A minute where 5xx answers spiked. */
export interface ErrorBurst {
  start: string;
  end: string;
  requests: number;
  errors_5xx: number;
}

/** One route family's numbers. */
export interface RouteStats {
  route: string;
  requests: number;
  bytes: number;
  errors_4xx: number;
  errors_5xx: number;
  /** From `$request_time`, when the format has it. */
  request_time_ms?: { p50: number; p90: number; p99: number };
}

/** The whole report. */
export interface AccessReport {
  schema: typeof REPORT_SCHEMA;
  generated_at: string;
  files: string[];
  /** The `log_format` text the lines were parsed with. */
  log_format: string;
  /** The window asked for (`--since`, `--until`), ISO times. */
  since?: string;
  until?: string;
  lines: {
    total: number;
    parsed: number;
    /** Lines that do not match the format, with a few kept as samples. */
    unparsed: number;
    unparsed_samples: string[];
    /** Lines over the length limit (cut) and lines with binary bytes (skipped). */
    cut: number;
    binary: number;
    /** Parsed lines outside `--since`/`--until`. */
    outside_window: number;
  };
  /** Times of the first and last request counted. */
  first?: string;
  last?: string;
  requests: number;
  bytes: number;
  /** Distinct (day, client, user agent), as GoAccess counts visitors. */
  visitors: number;
  /** How `visitors` was counted and its error. */
  visitors_note: string;
  status_classes: Record<"1xx" | "2xx" | "3xx" | "4xx" | "5xx", number>;
  statuses: { status: number; requests: number; bytes: number }[];
  methods: { method: string; requests: number }[];
  routes: RouteStats[];
  /** Per hour (UTC, ISO), oldest first. */
  hours: { hour: string; requests: number; bytes: number; errors_5xx: number }[];
  top: {
    paths: TopEntry[];
    not_found: TopEntry[];
    clients: TopEntry[];
    user_agents: TopEntry[];
    referers: TopEntry[];
  };
  /** `$request_time` over all requests, when the format has it. */
  request_time_ms?: { p50: number; p90: number; p99: number; count: number };
  suspicious: SuspiciousGroup[];
  bursts: ErrorBurst[];
}
