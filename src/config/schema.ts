/**
 * The config contract (SPEC §3): types, defaults and validation. `validateConfig`
 * turns a raw tree (YAML already parsed, `${VAR}` already expanded) into a
 * typed `Config`, or into the list of every problem, each naming its path.
 *
 * @module
 */

import {
  ConfigProblem,
  ConfigReader,
  formatHostPort,
  HostPort,
  readHeaders,
  show,
} from "./reader.ts";
import { timerDelay } from "../timers.ts";
import { parseCidr } from "../otlp/cidr.ts";
import { type AlertsConfig, readAlerts } from "./alerts.ts";
import { type AccessLogConfig, readAccessLogs } from "./access_logs.ts";
import { readServiceLogs, type ServiceLogConfig } from "./service_logs.ts";
import { type HousekeepingConfig, readHousekeeping } from "./housekeeping.ts";
import { type BackupJob, readBackups } from "./backups.ts";
export type { AccessLogConfig, AlertsConfig, HousekeepingConfig, ServiceLogConfig };

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
/** What OTLP exports: spans and metrics. */
export type OtlpSignal = "traces" | "metrics";

/** One signal's own OTLP settings, from `OTEL_EXPORTER_OTLP_<SIGNAL>_*`. */
export interface OtlpSignalOverride {
  endpoint?: string;
  protocol?: "grpc" | "http/protobuf";
  headers?: Record<string, string>;
}

export interface OtlpConfig {
  enable: boolean;
  /** `host:port` (gRPC) or an `http(s)://` URL (OTLP/HTTP protobuf unless the protocol says grpc). */
  endpoint: string;
  service_name: string;
  /** `grpc` or `http/protobuf`: `OTEL_EXPORTER_OTLP_PROTOCOL`, else from the endpoint's form. */
  protocol: "grpc" | "http/protobuf";
  /** Extra export headers (`OTEL_EXPORTER_OTLP_HEADERS`). */
  headers: Record<string, string>;
  /**
   * Per-signal settings (`OTEL_EXPORTER_OTLP_{TRACES,METRICS}_{ENDPOINT,PROTOCOL,HEADERS}`):
   * they beat the general ones; a per-signal endpoint is used as given.
   */
  signals: Partial<Record<OtlpSignal, OtlpSignalOverride>>;
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

/** `otlp_receiver:`: the OTLP receiver the platform's services export to, as to a collector. */
export interface OtlpReceiverConfig {
  /** Listen on `grpc_listen` and `http_listen` (default true). */
  enable: boolean;
  /**
   * Serve OTLP/gRPC on `grpc_listen` (default false), from a process of its
   * own: under Deno 2.9.6 the grpc-js server (Deno's `node:http2`) can abort
   * the process it runs in when a client closes a connection it used for many
   * calls (denoland/deno#36788); the agent starts that process again. Opt-in:
   * a second process. OTLP/HTTP is on.
   */
  grpc: boolean;
  /** OTLP/gRPC (default `127.0.0.1:4317`), served when `grpc` is true. */
  grpc_listen: HostPort;
  /** OTLP/HTTP (default `127.0.0.1:4318`). */
  http_listen: HostPort;
  /** CIDR ranges (IPv4 or IPv6) that may send without a token, besides loopback; validated. */
  allow_from: string[];
  /** Largest request, as sent and decoded, in bytes (default 4 MiB). */
  max_message: number;
  /** Most metric series kept (default 50,000). */
  max_series: number;
  /** Where to pass received data on: `host:port` (gRPC) or an `http(s)://` URL; `""`: nowhere. */
  forward: string;
  /** Extra headers (gRPC metadata) sent with forwarded data. */
  forward_headers: Record<string, string>;
  /** Serve the received metrics on `/metrics` beside the agent's own (default false). */
  expose_metrics: boolean;
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
  /** `http`: follow up to 10 redirects and check the last answer (default false). */
  follow_redirects: boolean;
  expect: ProbeExpect;
}

/** The whole validated config. */
export interface Config {
  server: ServerConfig;
  log: LogConfig;
  store: StoreConfig;
  otlp: OtlpConfig;
  otlp_receiver: OtlpReceiverConfig;
  probes: ProbeConfig[];
  alerts: AlertsConfig;
  access_logs: AccessLogConfig[];
  service_logs: ServiceLogConfig[];
  housekeeping: HousekeepingConfig[];
  backups: BackupJob[];
}

/** The outcome of validation: a config, or every problem found. */
export type ValidateResult =
  | { ok: true; config: Config }
  | { ok: false; problems: ConfigProblem[] };

const TOP_KEYS = [
  "server",
  "log",
  "store",
  "otlp",
  "otlp_receiver",
  "probes",
  "alerts",
  "access_logs",
  "service_logs",
  "housekeeping",
  "backups",
] as const satisfies readonly (keyof Config)[];
const SERVER_KEYS = [
  "listen",
  "write_token",
  "read_token",
  "max_body",
  "shutdown_timeout",
  "header_timeout",
  "request_timeout",
] as const satisfies readonly (keyof ServerConfig)[];
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
] as const satisfies readonly (keyof LogConfig)[];
const STORE_KEYS = [
  "url",
  "retention",
  "max_size",
  "blob_dir",
  "inline_limit",
] as const satisfies readonly (keyof StoreConfig)[];
const OTLP_KEYS = [
  "enable",
  "endpoint",
  "service_name",
] as const satisfies readonly (keyof OtlpConfig)[];
const OTLP_RECEIVER_KEYS = [
  "enable",
  "grpc",
  "grpc_listen",
  "http_listen",
  "allow_from",
  "max_message",
  "max_series",
  "forward",
  "forward_headers",
  "expose_metrics",
] as const satisfies readonly (keyof OtlpReceiverConfig)[];
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
  "follow_redirects",
  "expect",
] as const satisfies readonly (keyof ProbeConfig)[];
const EXPECT_KEYS = [
  "status",
  "body_contains",
  "body_regex",
  "json",
  "max_latency",
  "cert_days_left",
  "banner",
  "first_event_within",
] as const satisfies readonly (keyof ProbeExpect)[];

// Each list is the YAML surface of its section: every key must be a field of
// the section's interface (a misspelt key fails to compile); fields a section
// derives (such as otlp.protocol) are simply not listed.

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
    otlp_receiver: readOtlpReceiver(r, top.otlp_receiver, server.listen),
    probes: readProbes(r, top.probes, server.listen),
    alerts: undefined as unknown as AlertsConfig,
    access_logs: readAccessLogs(r, top.access_logs),
    service_logs: readServiceLogs(r, top.service_logs),
    housekeeping: readHousekeeping(r, top.housekeeping),
    backups: readBackups(r, top.backups),
  };
  config.alerts = readAlerts(r, top.alerts, {
    probes: config.probes.map((p) => p.name),
    backups: config.backups.map((b) => b.name),
    serviceLogs: config.service_logs.map((l) => l.name),
    retention: config.store.retention,
    apiUrl: `http://${formatHostPort(loopbackOf(server.listen))}`,
  });
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
    signals: {},
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

/** The receiver's defaults: the collector's standard ports, on loopback. */
export const OTLP_RECEIVER_DEFAULTS = {
  grpc: { host: "127.0.0.1", port: 4317 },
  http: { host: "127.0.0.1", port: 4318 },
  maxMessage: 4 * 1024 ** 2,
  maxSeries: 50_000,
} as const;

function readOtlpReceiver(r: ConfigReader, value: unknown, api: HostPort): OtlpReceiverConfig {
  const o = r.object(value, "otlp_receiver", OTLP_RECEIVER_KEYS);
  const grpc =
    r.hostPort(o.grpc_listen, "otlp_receiver.grpc_listen", OTLP_RECEIVER_DEFAULTS.grpc) ??
      OTLP_RECEIVER_DEFAULTS.grpc;
  const http =
    r.hostPort(o.http_listen, "otlp_receiver.http_listen", OTLP_RECEIVER_DEFAULTS.http) ??
      OTLP_RECEIVER_DEFAULTS.http;
  const same = (a: HostPort, b: HostPort) => a.port !== 0 && a.port === b.port && a.host === b.host;
  if (same(http, grpc)) {
    r.fail("otlp_receiver.http_listen", `${show(o.http_listen)} is also otlp_receiver.grpc_listen`);
  }
  for (const [key, addr] of [["grpc_listen", grpc], ["http_listen", http]] as const) {
    if (same(addr, api)) {
      r.fail(`otlp_receiver.${key}`, `${show(formatHostPort(addr))} is also server.listen`);
    }
  }
  const allow: string[] = [];
  (r.list(o.allow_from, "otlp_receiver.allow_from") ?? []).forEach((item, i) => {
    const path = `otlp_receiver.allow_from[${i}]`;
    const text = typeof item === "string" ? item : undefined;
    if (text === undefined || !parseCidr(text)) {
      r.fail(path, `${show(item)} is not an IP range like 172.16.0.0/12 or fd00::/8`);
    } else {
      allow.push(text.trim());
    }
  });
  const forward = r.string(o.forward, "otlp_receiver.forward", "").trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(forward)) {
    r.url(forward, "otlp_receiver.forward", ["http:", "https:"]);
  } else if (forward) {
    const target = r.hostPort(forward, "otlp_receiver.forward");
    if (target?.port === 0) r.fail("otlp_receiver.forward", `${show(forward)} has port 0`);
    else if (target && (same(target, grpc) || same(target, http))) {
      r.fail("otlp_receiver.forward", `${show(forward)} is this receiver's own address (a loop)`);
    }
  }
  const maxMessage = r.size(
    o.max_message,
    "otlp_receiver.max_message",
    OTLP_RECEIVER_DEFAULTS.maxMessage,
    1024,
  );
  // grpc-js takes a signed 32-bit length; a request this large is held in memory whole.
  if (maxMessage > 1024 ** 3) {
    r.fail("otlp_receiver.max_message", `${show(o.max_message)} is too large (at most 1GiB)`);
  }
  const headers = readHeaders(r, o.forward_headers, "otlp_receiver.forward_headers");
  if (!forward && Object.keys(headers).length) {
    r.fail("otlp_receiver.forward_headers", "is set but otlp_receiver.forward is not");
  }
  return {
    enable: r.boolean(o.enable, "otlp_receiver.enable", true),
    grpc: r.boolean(o.grpc, "otlp_receiver.grpc", false),
    grpc_listen: grpc,
    http_listen: http,
    allow_from: allow,
    max_message: maxMessage,
    max_series: r.integer(
      o.max_series,
      "otlp_receiver.max_series",
      OTLP_RECEIVER_DEFAULTS.maxSeries,
      1,
      10_000_000,
    ),
    forward,
    forward_headers: headers,
    expose_metrics: r.boolean(o.expose_metrics, "otlp_receiver.expose_metrics", false),
  };
}

/** A listen address as a client reaches it: a wildcard host becomes loopback. */
export function loopbackOf(listen: HostPort): HostPort {
  const host = listen.host === "0.0.0.0" ? "127.0.0.1" : listen.host === "::" ? "::1" : listen.host;
  return { host, port: listen.port };
}

/** The probe of the agent's own API that runs when `probes:` is absent. */
export function selfProbe(listen: HostPort): ProbeConfig {
  return {
    name: "astron-watch",
    type: "http",
    kind: "server",
    url: `http://${formatHostPort(loopbackOf(listen))}/healthz`,
    interval: DEFAULTS.probeInterval,
    timeout: DEFAULTS.probeTimeout,
    retries: DEFAULTS.probeRetries,
    jitter: 0,
    method: "GET",
    headers: {},
    follow_redirects: false,
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
  if (name) r.name(name, `${path}.name`);
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
  if (type !== "http" && o.follow_redirects !== undefined) {
    r.fail(`${path}.follow_redirects`, `is only used by http probes`);
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
    follow_redirects: r.boolean(o.follow_redirects, `${path}.follow_redirects`, false),
    expect: readExpect(r, o.expect, `${path}.expect`, type),
  };
  return r.problems.length === before ? probe : undefined;
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
