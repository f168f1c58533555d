/**
 * Loading the config: read the YAML file (or take the built-in defaults),
 * expand `${VAR}` and `${VAR:-default}` in string values, apply the platform's
 * `OTLP_*` environment variables over `otlp:`, and validate. Never throws:
 * every failure comes back as problems that name their path.
 *
 * @module
 */

import { parseDocument } from "yaml";
import { child, ConfigProblem, ConfigReader, formatProblem, show } from "./reader.ts";
import { Config, type OtlpSignalOverride, validateConfig } from "./schema.ts";
import { errorMessage } from "../errors.ts";

/** Where the config was read from: a file path, or the built-in defaults. */
export type ConfigSource = { kind: "file"; path: string } | { kind: "defaults" };

/**
 * The outcome of loading: a config and where it came from (with warnings:
 * things that are valid but probably not meant), or every problem.
 */
export type LoadResult =
  | { ok: true; config: Config; source: ConfigSource; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; source: ConfigSource };

/** What {@linkcode parseConfigText} returns: a config with its warnings, or every problem. */
export type ParseResult =
  | { ok: true; config: Config; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[] };

/** Options for {@linkcode loadConfig}. */
export interface LoadOptions {
  /** The file given with `--config`; it must exist. Without it `./astron-watch.yaml` is used if present. */
  path?: string;
  /** The environment to expand from; defaults to the process environment. */
  env?: Record<string, string>;
  /**
   * Called with each warning of a valid config (also returned in `warnings`).
   * Default: one line on stderr, `astron-watch: warning: <path>: <message>`,
   * so `check`, start-up and reloads all show it.
   */
  onWarning?: (warning: ConfigProblem) => void;
}

function warnOnStderr(w: ConfigProblem): void {
  console.error(`astron-watch: warning: ${formatProblem(w)}`);
}

/** The file looked for when `--config` is not given. */
export const DEFAULT_CONFIG_PATH = "./astron-watch.yaml";

/**
 * Load, expand and validate the config.
 *
 * @returns `{ ok: true, config, source, warnings }`, or `{ ok: false, problems }`
 * with each problem's path (`probes[2].timeout`), or the file (and line) for
 * YAML that is broken or too expensive to expand.
 */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadResult> {
  const env = options.env ?? Deno.env.toObject();
  const path = options.path ?? DEFAULT_CONFIG_PATH;
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound) || options.path !== undefined) {
      const why = err instanceof Deno.errors.NotFound ? "no such file" : errorMessage(err);
      const source: ConfigSource = { kind: "file", path };
      return { ok: false, source, problems: [{ path: "", message: `${path}: ${why}` }] };
    }
  }
  const source: ConfigSource = text === undefined ? { kind: "defaults" } : { kind: "file", path };
  const parsed = parseConfigText(text ?? "", env, path);
  if (parsed.ok) parsed.warnings.forEach(options.onWarning ?? warnOnStderr);
  return { source, ...parsed };
}

/**
 * Parse config text: YAML, then `${VAR}` expansion, `OTLP_*` overrides and validation.
 *
 * @param text the YAML; empty text means "all defaults".
 * @param env the variables for expansion and overrides.
 * @param name the file name used in YAML errors.
 * @returns the config and its warnings (a token that a `${VAR}` left empty),
 * or every problem; never throws, not even for an alias bomb.
 */
export function parseConfigText(
  text: string,
  env: Record<string, string>,
  name = "config",
): ParseResult {
  const fileProblem = (message: string) => ({
    ok: false as const,
    problems: [{ path: "", message }],
  });
  let raw: unknown;
  try {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const pos = e.linePos?.[0];
      const where = pos ? `${name}:${pos.line}:${pos.col}` : name;
      const message = e.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "");
      const line = pos ? text.split("\n")[pos.line - 1] ?? "" : "";
      return fileProblem(`${where}: broken YAML: ${message}${yamlHint(line)}`);
    }
    // A "billion laughs" document is small but expands without bound: refuse it.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const why = err instanceof ReferenceError && /alias/i.test(err.message)
      ? "too many YAML aliases (more than 100 expansions; an alias bomb?)"
      : errorMessage(err);
    return fileProblem(`${name}: broken YAML: ${why}`);
  }
  const r = new ConfigReader();
  const expanded = expandTree(raw, "", env, r);
  if (r.problems.length) return { ok: false, problems: r.problems };
  const result = validateConfig(expanded);
  if (!result.ok) return result;
  applyOtlpEnv(result.config, env, r);
  if (r.problems.length) return { ok: false, problems: r.problems };
  return { ...result, warnings: emptyTokenWarnings(raw, result.config, env) };
}

/** A hint for a YAML error on a line like `listen: [::1]:9477`, the classic unquoted IPv6 address. */
function yamlHint(line: string): string {
  return /:\s*\[[0-9A-Fa-f:.]*\]:\d/.test(line)
    ? ' (an IPv6 host:port must be quoted: "[::1]:9477")'
    : "";
}

/** Tokens whose emptiness changes what the API allows, and what an empty one means. */
const TOKENS = [
  ["write_token", "writes are refused (every POST gets 403)"],
  ["read_token", "reads are open on loopback only"],
] as const;

/**
 * Warn when a token written with `${VAR}` came out empty because a variable
 * is unset or empty: almost always a missing environment file, not a choice.
 */
function emptyTokenWarnings(
  raw: unknown,
  config: Config,
  env: Record<string, string>,
): ConfigProblem[] {
  const server = (raw as { server?: Record<string, unknown> } | null)?.server;
  const warnings: ConfigProblem[] = [];
  for (const [key, effect] of TOKENS) {
    const text = server?.[key];
    if (typeof text !== "string" || config.server[key] !== "") continue;
    // `${VAR:-}` asks for an empty default: only references without one count.
    const names = [...text.matchAll(VAR_RE)]
      .filter((m) => m[1] !== undefined && m[2] === undefined)
      .map((m) => m[1]);
    if (names.length === 0) continue;
    const why = names.map((n) => `\${${n}} is ${env[n] === undefined ? "not set" : "empty"}`);
    warnings.push({ path: `server.${key}`, message: `${why.join(", ")}: ${effect}` });
  }
  return warnings;
}

const VAR_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$\{[^}]*\}?/g;

/**
 * Expand `${VAR}`, `${VAR:-default}` (default when unset or empty), `${VAR-default}`
 * (default when unset) and `$$` (a literal `$`) in one string.
 *
 * @returns the expanded text, or an error message for a malformed reference.
 * @example
 * ```ts
 * expandVars("${HOST:-127.0.0.1}:${PORT}", { PORT: "80" }); // { value: "127.0.0.1:80" }
 * ```
 */
export function expandVars(
  text: string,
  env: Record<string, string>,
): { value: string } | { error: string } {
  let error: string | undefined;
  const value = text.replace(VAR_RE, (match: string, name?: string, fallback?: string) => {
    if (match === "$$") return "$";
    if (name === undefined) {
      error ??= `${
        show(match)
      } is not a valid variable reference (like \${NAME} or \${NAME:-default})`;
      return match;
    }
    const v = env[name];
    if (fallback === undefined) return v ?? "";
    const emptyCounts = match.includes(":-");
    return v === undefined || (emptyCounts && v === "") ? fallback : v;
  });
  return error === undefined ? { value } : { error };
}

function expandTree(
  value: unknown,
  path: string,
  env: Record<string, string>,
  r: ConfigReader,
): unknown {
  if (typeof value === "string") {
    if (!value.includes("$")) return value;
    const out = expandVars(value, env);
    if ("error" in out) return r.fail(path, out.error);
    return out.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => expandTree(v, child(path, i), env, r));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandTree(v, child(path, k), env, r);
    return out;
  }
  return value;
}

/** An endpoint from `variable`: `host:port` or an `http(s)://` URL; undefined (and a problem) when neither. */
function otlpEndpoint(text: string, variable: string, r: ConfigReader): string | undefined {
  const valid = /^https?:\/\//.test(text)
    ? r.url(text, variable, ["http:", "https:"])
    : r.hostPort(text, variable);
  return valid ? text : undefined;
}

function otlpProtocol(
  env: Record<string, string>,
  variable: string,
  r: ConfigReader,
): "grpc" | "http/protobuf" | undefined {
  const text = env[variable]?.trim();
  if (!text) return undefined;
  return r.oneOf(text, variable, ["grpc", "http/protobuf"] as const, "grpc");
}

/** `key=value,key=value` headers (URL-encoded, as the spec writes them). */
function otlpHeaders(
  env: Record<string, string>,
  variable: string,
  r: ConfigReader,
): Record<string, string> | undefined {
  const text = env[variable]?.trim();
  if (!text) return undefined;
  const out: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      r.fail(variable, `${show(pair)} is not key=value`);
      continue;
    }
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(
        pair.slice(eq + 1).trim(),
      );
    } catch {
      r.fail(variable, `${show(pair)} is not URL-encoded`);
    }
  }
  return out;
}

/** The `OTLP_*` numeric settings: variable -> where it goes and its smallest value. */
const OTLP_NUMBERS: [string, (c: Config, v: number) => void, number][] = [
  ["OTLP_TRACE_TIMEOUT", (c, v) => c.otlp.trace.timeout = v, 1],
  ["OTLP_TRACE_MAX_QUEUE_SIZE", (c, v) => c.otlp.trace.max_queue_size = v, 1],
  ["OTLP_TRACE_SCHEDULE_DELAY_MILLIS", (c, v) => c.otlp.trace.schedule_delay = v, 1],
  ["OTLP_TRACE_MAX_EXPORT_BATCH_SIZE", (c, v) => c.otlp.trace.max_export_batch_size = v, 1],
  ["OTLP_TRACE_EXPORT_TIMEOUT_MILLIS", (c, v) => c.otlp.trace.export_timeout = v, 1],
  ["OTLP_METRIC_TIMEOUT", (c, v) => c.otlp.metric.timeout = v, 1],
  ["OTLP_METRIC_EXPORT_INTERVAL_MILLIS", (c, v) => c.otlp.metric.export_interval = v, 100],
  ["OTLP_METRIC_EXPORT_TIMEOUT_MILLIS", (c, v) => c.otlp.metric.export_timeout = v, 1],
];

/**
 * The OTLP environment, as the platform's newer `args/trace.py` and the OTLP
 * spec read it: per-signal `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_*` beat the
 * general `OTEL_EXPORTER_OTLP_*`, which beat the platform's `OTLP_ENDPOINT`,
 * which beats the file's `otlp:` section. `OTLP_ENABLE` turns export on for
 * `true`, `1`, `yes` or `on`, as the platform's traces do. Problems name the
 * variable.
 */
function applyOtlpEnv(config: Config, env: Record<string, string>, r: ConfigReader): void {
  const enable = env.OTLP_ENABLE?.trim().toLowerCase();
  if (enable) config.otlp.enable = ["true", "1", "yes", "on"].includes(enable);
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
    ? "OTEL_EXPORTER_OTLP_ENDPOINT"
    : env.OTLP_ENDPOINT?.trim()
    ? "OTLP_ENDPOINT"
    : undefined;
  if (general) {
    const endpoint = otlpEndpoint(env[general].trim(), general, r);
    if (endpoint) {
      config.otlp.endpoint = endpoint;
      config.otlp.protocol = /^https?:\/\//.test(endpoint) ? "http/protobuf" : "grpc";
    }
  }
  const protocol = otlpProtocol(env, "OTEL_EXPORTER_OTLP_PROTOCOL", r);
  if (protocol) config.otlp.protocol = protocol;
  const headers = otlpHeaders(env, "OTEL_EXPORTER_OTLP_HEADERS", r);
  if (headers) config.otlp.headers = headers;
  for (const signal of ["traces", "metrics"] as const) {
    const prefix = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_`;
    const own: OtlpSignalOverride = {};
    const endpointText = env[`${prefix}ENDPOINT`]?.trim();
    if (endpointText) own.endpoint = otlpEndpoint(endpointText, `${prefix}ENDPOINT`, r);
    own.protocol = otlpProtocol(env, `${prefix}PROTOCOL`, r);
    own.headers = otlpHeaders(env, `${prefix}HEADERS`, r);
    for (const k of Object.keys(own) as (keyof OtlpSignalOverride)[]) {
      if (own[k] === undefined) delete own[k];
    }
    if (Object.keys(own).length) config.otlp.signals[signal] = own;
  }
  const name = env.OTLP_SERVICE_NAME?.trim() || env.SERVICE_NAME?.trim();
  if (name) config.otlp.service_name = name;
  for (const [variable, set, min] of OTLP_NUMBERS) {
    const text = env[variable]?.trim();
    if (text) set(config, r.integer(text, variable, 0, min, 86_400_000));
  }
  // A batch larger than the queue is invalid for the SDK; the platform sets both to 2048.
  const t = config.otlp.trace;
  if (t.max_export_batch_size > t.max_queue_size) t.max_export_batch_size = t.max_queue_size;
}
