/**
 * The config contract (SPEC §3): types, defaults and validation. `validateConfig`
 * turns a raw tree (YAML already parsed, `${VAR}` already expanded) into a
 * typed `Config`, or into the list of every problem, each naming its path.
 *
 * @module
 */

import { ConfigProblem, ConfigReader, formatHostPort, HostPort, show } from "./reader.ts";
import { timerDelay } from "../timers.ts";

import type { LogFormat, LogLevel } from "../log/logger.ts";
export type { LogFormat, LogLevel };
export type ProbeType = "http" | "tcp" | "postgres" | "redis" | "sse";
export type ProbeKind = "server" | "rely";

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const PROBE_TYPES: readonly ProbeType[] = ["http", "tcp", "postgres", "redis", "sse"];
const PROBE_KINDS: readonly ProbeKind[] = ["server", "rely"];
const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** `server:`: the HTTP API. */
export interface ServerConfig {
  listen: HostPort;
  /** Bearer token for POST routes; empty means writes are refused. */
  write_token: string;
  /** Bearer token for reads; empty means reads are open on loopback only. */
  read_token: string;
  /** Largest request body accepted, in bytes (larger: 413). */
  max_body: number;
  /** How long SIGTERM may take to drain, in ms. */
  shutdown_timeout: number;
  /** Most ms a client may take to send a request's headers (then 408, connection closed). */
  header_timeout: number;
  /** Most ms a client may take to send a whole request, headers and body. */
  request_timeout: number;
}

/** `log:`: the agent's own log. */
export interface LogConfig {
  dir: string;
  file: string;
  level: LogLevel;
  format: LogFormat;
  max_size: number;
  keep: number;
  compress: boolean;
  flush_interval: number;
  /** Rotated files older than this are removed; 0 keeps them (by count only). */
  max_age: number;
  /** Also log to stderr: `auto` when it is a terminal or the systemd journal. */
  stderr: "auto" | "always" | "never";
}

/** `store:`: the trace store. */
export interface StoreConfig {
  url: string;
  retention: number;
  max_size: number;
  blob_dir: string;
  inline_limit: number;
}

/** `otlp:`: export to an OpenTelemetry collector. The keys below `service_name` come from the environment only. */
export interface OtlpConfig {
  enable: boolean;
  /** `host:port` (gRPC) or an `http(s)://` URL (OTLP/HTTP protobuf unless the protocol says grpc). */
  endpoint: string;
  service_name: string;
  /** `grpc` or `http/protobuf`: `OTEL_EXPORTER_OTLP_PROTOCOL`, else from the endpoint's form. */
  protocol: "grpc" | "http/protobuf";
  /** Extra export headers (`OTEL_EXPORTER_OTLP_HEADERS`). */
  headers: Record<string, string>;
  /** Span export (`OTLP_TRACE_*`), milliseconds and counts. */
  trace: {
    timeout: number;
    max_queue_size: number;
    schedule_delay: number;
    max_export_batch_size: number;
    export_timeout: number;
  };
  /** Metric export (`OTLP_METRIC_*`), milliseconds. */
  metric: { timeout: number; export_interval: number; export_timeout: number };
}

/** A value `expect.json` compares a field with. */
export type JsonScalar = string | number | boolean | null;

/** `probes[].expect`: what counts as up. */
export interface ProbeExpect {
  status?: number[];
  body_contains?: string;
  body_regex?: RegExp;
  /** JSON fields that must equal the given values: `{ "status": "UP", "data.items[0].ok": true }`. */
  json?: Record<string, JsonScalar>;
  max_latency?: number;
  cert_days_left?: number;
  banner?: string;
  first_event_within?: number;
}

/** One probe, validated; `url` or `target` is set according to `type`. */
export interface ProbeConfig {
  name: string;
  type: ProbeType;
  kind: ProbeKind;
  url?: string;
  target?: HostPort;
  interval: number;
  timeout: number;
  retries: number;
  jitter: number;
  method: string;
  headers: Record<string, string>;
  body?: string;
  password?: string;
  expect: ProbeExpect;
}

/** The whole validated config. */
export interface Config {
  server: ServerConfig;
  log: LogConfig;
  store: StoreConfig;
  otlp: OtlpConfig;
  probes: ProbeConfig[];
}

/** The outcome of validation: a config, or every problem found. */
export type ValidateResult =
  | { ok: true; config: Config }
  | { ok: false; problems: ConfigProblem[] };

const TOP_KEYS = ["server", "log", "store", "otlp", "probes"] as const;
const SERVER_KEYS = [
  "listen",
  "write_token",
  "read_token",
  "max_body",
  "shutdown_timeout",
  "header_timeout",
  "request_timeout",
];
const LOG_KEYS = [
  "dir",
  "file",
  "level",
  "format",
  "max_size",
  "keep",
  "compress",
  "flush_interval",
  "max_age",
  "stderr",
];
const STORE_KEYS = ["url", "retention", "max_size", "blob_dir", "inline_limit"];
const OTLP_KEYS = ["enable", "endpoint", "service_name"];
const PROBE_KEYS = [
  "name",
  "type",
  "kind",
  "url",
  "target",
  "interval",
  "timeout",
  "retries",
  "jitter",
  "method",
  "headers",
  "body",
  "password",
  "expect",
];
const EXPECT_KEYS = [
  "status",
  "body_contains",
  "body_regex",
  "json",
  "max_latency",
  "cert_days_left",
  "banner",
  "first_event_within",
];

/** Which address key each probe type takes, and the URL schemes it accepts. */
const ADDRESS: Record<ProbeType, { key: "url" | "target"; schemes?: string[] }> = {
  http: { key: "url", schemes: ["http:", "https:"] },
  sse: { key: "url", schemes: ["http:", "https:"] },
  tcp: { key: "target" },
  postgres: { key: "url", schemes: ["postgres:", "postgresql:"] },
  redis: { key: "target" },
};

/** `expect` keys that only make sense for some probe types. */
const EXPECT_FOR: Partial<Record<keyof ProbeExpect, ProbeType[]>> = {
  status: ["http", "sse"],
  body_contains: ["http"],
  body_regex: ["http"],
  json: ["http"],
  cert_days_left: ["http", "sse"],
  banner: ["tcp"],
  first_event_within: ["sse"],
};

/** The defaults the agent runs on with no file at all (SPEC §3). */
export const DEFAULTS = {
  listen: { host: "127.0.0.1", port: 9477 },
  probeInterval: 30_000,
  probeTimeout: 10_000,
  probeRetries: 3,
} as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Validate a raw config tree. Every problem is collected, none thrown.
 *
 * @param raw the parsed YAML (`undefined` or `null` for "no file": all defaults).
 * @returns `{ ok: true, config }` or `{ ok: false, problems }`.
 */
export function validateConfig(raw: unknown): ValidateResult {
  const r = new ConfigReader();
  const top = r.object(raw, "", TOP_KEYS);
  const server = readServer(r, top.server);
  const config: Config = {
    server,
    log: readLog(r, top.log),
    store: readStore(r, top.store),
    otlp: readOtlp(r, top.otlp),
    probes: readProbes(r, top.probes, server.listen),
  };
  return r.problems.length ? { ok: false, problems: r.problems } : { ok: true, config };
}

function readServer(r: ConfigReader, value: unknown): ServerConfig {
  const o = r.object(value, "server", SERVER_KEYS);
  return {
    listen: r.hostPort(o.listen, "server.listen", DEFAULTS.listen) ?? DEFAULTS.listen,
    write_token: r.string(o.write_token, "server.write_token", ""),
    read_token: r.string(o.read_token, "server.read_token", ""),
    max_body: r.size(o.max_body, "server.max_body", 16 * 1024 ** 2, 1024),
    // Only a timer waits for it, and a drain deadline past what one can wait
    // (~24.8 days) means "no deadline" just as well: clamp rather than overflow.
    shutdown_timeout: timerDelay(
      r.duration(o.shutdown_timeout, "server.shutdown_timeout", 10_000, 100),
    ),
    header_timeout: timerDelay(
      r.duration(o.header_timeout, "server.header_timeout", 10_000, 100),
    ),
    request_timeout: timerDelay(
      r.duration(o.request_timeout, "server.request_timeout", 300_000, 100),
    ),
  };
}

function readLog(r: ConfigReader, value: unknown): LogConfig {
  const o = r.object(value, "log", LOG_KEYS);
  const file = r.string(o.file, "log.file", "astron-watch.log");
  if (file === "" || file.includes("/")) r.fail("log.file", `${show(file)} must be a file name`);
  return {
    dir: r.string(o.dir, "log.dir", "./logs"),
    file,
    level: r.oneOf(o.level, "log.level", LOG_LEVELS, "info"),
    format: r.oneOf(o.format, "log.format", ["json", "text"] as const, "json"),
    max_size: r.size(o.max_size, "log.max_size", 10_000_000, 1024),
    keep: r.integer(o.keep, "log.keep", 10, 0, 10_000),
    compress: r.boolean(o.compress, "log.compress", true),
    flush_interval: r.duration(o.flush_interval, "log.flush_interval", 1_000, 1),
    max_age: r.duration(o.max_age, "log.max_age", 0),
    stderr: r.oneOf(o.stderr, "log.stderr", ["auto", "always", "never"] as const, "auto"),
  };
}

function readStore(r: ConfigReader, value: unknown): StoreConfig {
  const o = r.object(value, "store", STORE_KEYS);
  const url = r.string(o.url, "store.url", "sqlite:./data/astron-watch.db");
  if (!/^sqlite:.+/.test(url)) r.url(url, "store.url", ["postgres:", "postgresql:", "sqlite:"]);
  return {
    url,
    retention: r.duration(o.retention, "store.retention", 7 * 86_400_000, 60_000),
    max_size: r.size(o.max_size, "store.max_size", 2_000_000_000, 1_000_000),
    blob_dir: r.string(o.blob_dir, "store.blob_dir", "./data/blobs"),
    inline_limit: r.size(o.inline_limit, "store.inline_limit", 5 * 1024, 64),
  };
}

function readOtlp(r: ConfigReader, value: unknown): OtlpConfig {
  const o = r.object(value, "otlp", OTLP_KEYS);
  const endpoint = r.string(o.endpoint, "otlp.endpoint", "127.0.0.1:4317");
  if (/^https?:\/\//.test(endpoint)) r.url(endpoint, "otlp.endpoint", ["http:", "https:"]);
  else r.hostPort(endpoint, "otlp.endpoint");
  return {
    enable: r.boolean(o.enable, "otlp.enable", false),
    endpoint,
    service_name: r.string(o.service_name, "otlp.service_name", "astron-watch"),
    protocol: /^https?:\/\//.test(endpoint) ? "http/protobuf" : "grpc",
    headers: {},
    // The OpenTelemetry SDK's code defaults (the platform's .env sets its own through OTLP_*).
    trace: {
      timeout: 5000,
      max_queue_size: 2048,
      schedule_delay: 5000,
      max_export_batch_size: 512,
      export_timeout: 30000,
    },
    metric: { timeout: 3000, export_interval: 1000, export_timeout: 3000 },
  };
}

/** The probe of the agent's own API that runs when `probes:` is absent. */
export function selfProbe(listen: HostPort): ProbeConfig {
  const host = listen.host === "0.0.0.0" ? "127.0.0.1" : listen.host === "::" ? "::1" : listen.host;
  return {
    name: "astron-watch",
    type: "http",
    kind: "server",
    url: `http://${formatHostPort({ host, port: listen.port })}/healthz`,
    interval: DEFAULTS.probeInterval,
    timeout: DEFAULTS.probeTimeout,
    retries: DEFAULTS.probeRetries,
    jitter: 0,
    method: "GET",
    headers: {},
    expect: { status: [200] },
  };
}

function readProbes(r: ConfigReader, value: unknown, listen: HostPort): ProbeConfig[] {
  const list = r.list(value, "probes");
  if (list === undefined) return value === undefined || value === null ? [selfProbe(listen)] : [];
  const seen = new Map<string, number>();
  const probes: ProbeConfig[] = [];
  list.forEach((item, i) => {
    const probe = readProbe(r, item, `probes[${i}]`);
    if (!probe) return;
    const first = seen.get(probe.name);
    if (first !== undefined) {
      r.fail(`probes[${i}].name`, `${show(probe.name)} is already used by probes[${first}]`);
      return;
    }
    seen.set(probe.name, i);
    probes.push(probe);
  });
  return probes;
}

function readProbe(r: ConfigReader, value: unknown, path: string): ProbeConfig | undefined {
  const before = r.problems.length;
  const o = r.object(value, path, PROBE_KEYS);
  if (o.name === undefined || o.name === null) r.fail(`${path}.name`, "is required");
  const name = r.string(o.name, `${path}.name`, "");
  if (name && !NAME_RE.test(name)) {
    r.fail(`${path}.name`, `${show(name)} must be letters, digits, "_", "-" or "." (max 64)`);
  }
  if (o.type === undefined) r.fail(`${path}.type`, `is required (${PROBE_TYPES.join(" | ")})`);
  const type = r.oneOf(o.type, `${path}.type`, PROBE_TYPES, "http");
  const address = ADDRESS[type];
  const other = address.key === "url" ? "target" : "url";
  if (o[other] !== undefined) {
    r.fail(`${path}.${other}`, `is not used by ${type} probes (use ${address.key})`);
  }
  const url = address.key === "url"
    ? r.url(o.url, `${path}.url`, address.schemes ?? [])?.href
    : undefined;
  const target = address.key === "target" ? r.hostPort(o.target, `${path}.target`) : undefined;
  if (target?.port === 0) r.fail(`${path}.target`, `${show(o.target)} has port 0`);

  const interval = r.duration(o.interval, `${path}.interval`, DEFAULTS.probeInterval, 100);
  const timeout = r.duration(o.timeout, `${path}.timeout`, DEFAULTS.probeTimeout, 10);
  if (timeout > interval && r.problems.length === before) {
    r.fail(`${path}.timeout`, `${show(o.timeout ?? "10s")} is longer than the interval`);
  }
  const httpLike = type === "http" || type === "sse";
  for (const key of ["method", "headers", "body"] as const) {
    if (!httpLike && o[key] !== undefined) {
      r.fail(`${path}.${key}`, `is not used by ${type} probes`);
    }
  }
  if (type !== "redis" && o.password !== undefined) {
    r.fail(`${path}.password`, `is only used by redis probes`);
  }
  const method = r.string(o.method, `${path}.method`, type === "sse" ? "POST" : "GET")
    .toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    r.fail(`${path}.method`, `${show(o.method)} is not one of ${HTTP_METHODS.join(" | ")}`);
  }
  const probe: ProbeConfig = {
    name,
    type,
    kind: r.oneOf(o.kind, `${path}.kind`, PROBE_KINDS, "server"),
    url,
    target,
    interval,
    timeout,
    retries: r.integer(o.retries, `${path}.retries`, DEFAULTS.probeRetries, 1, 1000),
    jitter: r.duration(o.jitter, `${path}.jitter`, Math.min(interval, 10_000)),
    method,
    headers: readHeaders(r, o.headers, `${path}.headers`),
    body: o.body === undefined ? undefined : r.string(o.body, `${path}.body`, ""),
    password: o.password === undefined ? undefined : r.string(o.password, `${path}.password`, ""),
    expect: readExpect(r, o.expect, `${path}.expect`, type),
  };
  return r.problems.length === before ? probe : undefined;
}

function readHeaders(r: ConfigReader, value: unknown, path: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    return r.fail(path, `expected a mapping of header names to values, got ${show(value)}`) ?? {};
  }
  const headers: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      r.fail(`${path}.${key}`, `${show(key)} is not a valid header name`);
      continue;
    }
    headers[key] = r.string(v, `${path}.${key}`, "");
  }
  return headers;
}

function readExpect(r: ConfigReader, value: unknown, path: string, type: ProbeType): ProbeExpect {
  const o = r.object(value, path, EXPECT_KEYS);
  for (const [key, types] of Object.entries(EXPECT_FOR)) {
    if (o[key] !== undefined && !types.includes(type)) {
      r.fail(`${path}.${key}`, `is not used by ${type} probes`);
    }
  }
  const expect: ProbeExpect = {};
  if (o.status !== undefined) {
    const list = Array.isArray(o.status) ? o.status : [o.status];
    expect.status = list.map((s, i) => r.integer(s, `${path}.status[${i}]`, 200, 100, 599));
  }
  if (o.body_contains !== undefined) {
    expect.body_contains = r.string(o.body_contains, `${path}.body_contains`, "");
  }
  if (o.body_regex !== undefined) {
    const src = r.string(o.body_regex, `${path}.body_regex`, "");
    try {
      expect.body_regex = new RegExp(src);
    } catch {
      r.fail(`${path}.body_regex`, `${show(src)} is not a valid regular expression`);
    }
  }
  if (o.json !== undefined) expect.json = readJsonExpect(r, o.json, `${path}.json`);
  if (o.max_latency !== undefined) {
    expect.max_latency = r.duration(o.max_latency, `${path}.max_latency`, 0, 1);
  }
  if (o.cert_days_left !== undefined) {
    expect.cert_days_left = r.integer(o.cert_days_left, `${path}.cert_days_left`, 0, 0, 3650);
  }
  if (o.banner !== undefined) expect.banner = r.string(o.banner, `${path}.banner`, "");
  if (o.first_event_within !== undefined) {
    expect.first_event_within = r.duration(
      o.first_event_within,
      `${path}.first_event_within`,
      0,
      1,
    );
  }
  return expect;
}

const FIELD_PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+|\[\d+\])*$/;

/** `expect.json`: field paths (`data.items[0].status`) to the scalar each must equal. */
function readJsonExpect(r: ConfigReader, value: unknown, path: string): Record<string, JsonScalar> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return r.fail(path, `expected a mapping of field paths to values, got ${show(value)}`) ?? {};
  }
  const fields: Record<string, JsonScalar> = {};
  for (const [field, want] of Object.entries(value)) {
    if (!FIELD_PATH.test(field)) {
      r.fail(path, `${show(field)} is not a field path like data.items[0].status`);
    } else if (want !== null && typeof want === "object") {
      r.fail(`${path}.${field}`, `expected a string, number, boolean or null, got ${show(want)}`);
    } else {
      fields[field] = want as JsonScalar;
    }
  }
  return fields;
}
