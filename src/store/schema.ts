/**
 * The trace store's tables as Kysely sees them. Times are epoch milliseconds;
 * `record` columns hold the platform's JSON exactly as received (large
 * strings replaced by blob links), so fields the platform adds later are kept.
 *
 * @module
 */

/** One workflow run (the platform's "WorkflowLog" without its `trace`). */
export interface RunsTable {
  sid: string;
  app_id: string;
  uid: string;
  chat_id: string;
  status_code: number;
  /** 1 when `status.code` is not 0. */
  is_error: number;
  start_time: number;
  end_time: number;
  duration: number;
  first_frame_duration: number;
  question_tokens: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  node_count: number;
  /** The question, for `q` search and list pages (NUL removed). */
  question: string;
  /** Bytes this run takes (its JSON and its nodes'), for the disk budget. */
  size_bytes: number;
  /** 1 when a node logged at ERROR (a `logs` entry with `"level":"ERROR"`). */
  error_log: number;
  ingested_at: number;
  /** The record as received, without `trace`. */
  record: string;
}

/** One node log of a run, in the order the record listed it (`idx`). */
export interface NodesTable {
  sid: string;
  idx: number;
  id: string;
  node_id: string;
  /** `node_type`, else the part of `node_id` before `:`. */
  node_type: string;
  start_time: number;
  end_time: number;
  duration: number;
  /** 0 after an error (`running_status: false`), else 1. */
  ok: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Place in execution order (null for rows written before it was kept). */
  ord: number | null;
  record: string;
}

/** The text `q=` searches for a run: question, answer, status message, node logs, offloaded strings. */
export interface RunSearchTable {
  sid: string;
  text: string;
}

/** One OTLP span; linked to a run through its `sid` attribute. */
export interface SpansTable {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  sid: string;
  name: string;
  service_name: string;
  start_time: number;
  end_time: number;
  status_code: number;
  received_at: number;
  record: string;
}

/** One probe result (written by the probe scheduler's history keeper). */
export interface ProbeResultsTable {
  probe: string;
  at: number;
  ok: number;
  duration_ms: number;
  reason: string;
  record: string;
}

/** One blob file (content-addressed by SHA-256). */
export interface BlobsTable {
  hash: string;
  size: number;
  created_at: number;
}

/** Which spans link to which blobs (span values over 10 KiB), so unreferenced blobs can go. */
export interface SpanBlobsTable {
  trace_id: string;
  span_id: string;
  hash: string;
}

/** Which runs link to which blobs, so unreferenced blobs can go. */
export interface RunBlobsTable {
  sid: string;
  hash: string;
}

/** One series of received platform metrics (written by the metric rollups, src/rollups/). */
export interface MetricSeriesTable {
  /** 16 hex digits: a hash of service, name, labels (and histogram bounds). */
  id: string;
  /** The resource's `service.name`. */
  service: string;
  name: string;
  /** `counter`, `gauge` or `histogram`. */
  kind: string;
  unit: string;
  description: string;
  /** The point's labels as a JSON object of strings, keys in order. */
  labels: string;
  /** Histogram bucket bounds as a JSON array ("" for other kinds). */
  bounds: string;
  first_seen: number;
  /** When the series was last heard from (kept to within a few minutes). */
  last_seen: number;
}

/** One minute of one metric series. */
export interface MetricRollupsTable {
  series_id: string;
  /** Epoch ms at the minute's start. */
  minute: number;
  /** Counter: the minute's increase. Gauge: its last value. Histogram: observations added. */
  value: number;
  /** Histogram: sum of the observations added; 0 otherwise. */
  sum: number;
  /** Histogram: observations added per bucket, a JSON array ("" for other kinds). */
  counts: string;
  /** Time of the latest point in the minute (epoch ms). */
  at: number;
}

/** One pending or firing alert instance (src/alerts/), so a restart neither repeats nor loses a notification. */
export interface AlertInstancesTable {
  key: string;
  rule: string;
  /** The instance as JSON (labels, state, since, last sent, value). */
  record: string;
  updated_at: number;
}

/** An alert that started or stopped firing. */
export interface AlertEventsTable {
  at: number;
  rule: string;
  key: string;
  /** `firing` or `resolved`. */
  event: string;
  severity: string;
  /** The instance as JSON at the event. */
  record: string;
}

/** A silence made through the API or the shell. */
export interface SilencesTable {
  id: string;
  /** Matchers as JSON (`[{ name, value, isRegex, isEqual }]`). */
  matchers: string;
  starts_at: number;
  ends_at: number;
  author: string;
  comment: string;
  created_at: number;
}

/** Where a followed file was read to (issue 13): one row per content stream of a source. */
export interface TailPositionsTable {
  /** The `access_logs`/`service_logs` entry (`access:nginx`, `service:core`). */
  source: string;
  /** The stream's id: `dev:ino` where it was first seen. */
  key: string;
  /** Where it is now, `dev:ino` (a copy or a `.gz` takes over a truncated file's stream). */
  ino: string;
  /** Hash of the first line: tells a reused inode or a truncated file from the same content. */
  head: string;
  path: string;
  /** Bytes read (uncompressed), always at a line's end. */
  offset: number;
  /** A `.gz` file read to its end: its `ino:size:mtime` ("" for none). */
  ended: string;
  updated_at: number;
}

/** nginx requests counted per minute, route, method and status. */
export interface AccessMinutesTable {
  source: string;
  minute: number;
  route: string;
  method: string;
  status: number;
  requests: number;
  bytes: number;
  /** `$request_time` sum (seconds) and count, when the format has it. */
  time_sum: number;
  time_count: number;
}

/** An hour's bounded summaries (top lists, visitor sketch) as JSON. */
export interface AccessHoursTable {
  source: string;
  hour: number;
  summary: string;
}

/** Service log lines counted per minute, file and level. */
export interface ServiceLogMinutesTable {
  source: string;
  file: string;
  level: string;
  minute: number;
  lines: number;
  /** Lines at an error level naming an alert keyword. */
  matches: number;
}

/** Service log lines kept: error examples and lines that name a workflow `sid`. */
export interface ServiceLogLinesTable {
  source: string;
  file: string;
  at: number;
  level: string;
  /** The workflow run the line names, or "". */
  sid: string;
  /** 1 when the line is an error naming an alert keyword. */
  example: number;
  line: string;
}

/** Every table. */
export interface Database {
  tail_positions: TailPositionsTable;
  access_minutes: AccessMinutesTable;
  access_hours: AccessHoursTable;
  service_log_minutes: ServiceLogMinutesTable;
  service_log_lines: ServiceLogLinesTable;
  runs: RunsTable;
  run_search: RunSearchTable;
  nodes: NodesTable;
  spans: SpansTable;
  probe_results: ProbeResultsTable;
  blobs: BlobsTable;
  run_blobs: RunBlobsTable;
  span_blobs: SpanBlobsTable;
  metric_series: MetricSeriesTable;
  metric_rollups: MetricRollupsTable;
  alert_instances: AlertInstancesTable;
  alert_events: AlertEventsTable;
  silences: SilencesTable;
}
