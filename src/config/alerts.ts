/**
 * The `alerts:` section (issue 12): channels by name, rules with one
 * condition each, silences. `readAlerts` validates it with the rest of the
 * config, so `check` names every bad rule, channel, label and template by
 * its path.
 *
 * @module
 */

import { child, type ConfigReader, readHeaders, show } from "./reader.ts";
import { globMatch, parseMatcher, type SilenceMatcher } from "../alerts/matchers.ts";
import { templateProblem } from "../alerts/template.ts";

/** Where alerts go. */
export type ChannelType =
  | "webhook"
  | "alertmanager"
  | "dingtalk"
  | "feishu"
  | "wecom"
  | "slack"
  | "email";

export const CHANNEL_TYPES: readonly ChannelType[] = [
  "webhook",
  "alertmanager",
  "dingtalk",
  "feishu",
  "wecom",
  "slack",
  "email",
];

/** One channel of `alerts.channels`. */
export interface ChannelConfig {
  type: ChannelType;
  /** The receiver (for `email`, `smtp://host:port` or `smtps://host:port`). */
  url: string;
  /** `webhook`: the HMAC-SHA256 key; `dingtalk`, `feishu`: the robot's signing secret. */
  secret: string;
  /** Extra request headers (`webhook`, `alertmanager`, `slack`). */
  headers: Record<string, string>;
  /** Most ms one delivery attempt may take (default 10 s). */
  timeout: number;
  /** First wait after a failed attempt, ms; doubles up to `max_retry_interval` (default 1 s). */
  retry_interval: number;
  /** Longest wait between attempts, ms (default 5 min). */
  max_retry_interval: number;
  /** A message not delivered after this long is dropped and counted, ms (default 1 d). */
  max_age: number;
  /** `email`: sender, recipients, login, and STARTTLS on a `smtp://` URL (default true). */
  from: string;
  to: string[];
  username: string;
  password: string;
  starttls: boolean;
}

/** Where the numbers of a ratio, latency or absence condition come from. */
export type AlertSource = "otlp" | "probes" | "workflow" | "access_log";
export const ALERT_SOURCES: readonly AlertSource[] = ["otlp", "probes", "workflow", "access_log"];

/** A rule's condition: exactly one kind per rule. */
export type AlertCondition =
  | { kind: "probe_down"; probes: string[] }
  | {
    kind: "error_ratio";
    source: AlertSource;
    /** `otlp`: service names or globs; `probes`: probe names or globs; `access_log`: route families or globs. */
    match: string[];
    /** `otlp`: one alert per service and `func` (default: per service). */
    by_func: boolean;
    /** A `func` name or glob (`otlp`). */
    func: string;
    window: number;
    /** 0-1. */
    threshold: number;
    min_requests: number;
  }
  | {
    kind: "latency";
    source: AlertSource;
    match: string[];
    quantile: 0.5 | 0.9 | 0.99;
    window: number;
    /** Bound, ms. */
    above: number;
    min_requests: number;
  }
  | {
    kind: "node_log";
    level: string;
    keywords: string[];
    regex?: RegExp;
    count: number;
    window: number;
  }
  | { kind: "absent"; source: AlertSource; match: string[]; window: number }
  | { kind: "cert_expiry"; probes: string[]; days: number }
  | { kind: "store_budget"; above: number }
  | { kind: "log_drops"; window: number; min: number }
  | {
    kind: "service_log";
    /** `service_logs` entry names or globs. */
    logs: string[];
    levels: string[];
    /** Count only error lines naming one of the entry's `alert_keywords`. */
    keywords_only: boolean;
    count: number;
    window: number;
  }
  | {
    kind: "backup_age";
    /** Backup job names or globs. */
    jobs: string[];
    /** The last good backup may be this old, ms. */
    older_than: number;
  };

export type ConditionKind = AlertCondition["kind"];
export const CONDITION_KINDS: readonly ConditionKind[] = [
  "probe_down",
  "error_ratio",
  "latency",
  "node_log",
  "absent",
  "cert_expiry",
  "store_budget",
  "log_drops",
  "service_log",
  "backup_age",
];

export type Severity = "critical" | "warning" | "info";
export const SEVERITIES: readonly Severity[] = ["critical", "warning", "info"];

/** One rule of `alerts.rules`. */
export interface AlertRule {
  name: string;
  condition: AlertCondition;
  /** How long the condition must hold before the alert fires, ms (default 0). */
  for: number;
  severity: Severity;
  labels: Record<string, string>;
  /** `summary`, `description` (templates); missing ones get the kind's default text. */
  annotations: Record<string, string>;
  channels: string[];
  /** Labels that split a rule's notifications into groups (default: one group per rule). */
  group_by: string[];
  group_wait: number;
  repeat_interval: number;
}

/** One silence from the config (the API and the shell add more, kept in the store). */
export interface SilenceConfig {
  matchers: SilenceMatcher[];
  starts_at: number;
  ends_at: number;
  author: string;
  comment: string;
}

/**
 * One inhibition, as Alertmanager's: while an alert matching `source_matchers`
 * fires, alerts matching `target_matchers` with the same values of the
 * `equal` labels send nothing (e.g. each `probe_down` of a host while that
 * host's nginx is down).
 */
export interface InhibitRule {
  source_matchers: SilenceMatcher[];
  target_matchers: SilenceMatcher[];
  equal: string[];
}

/** `alerts:`. */
export interface AlertsConfig {
  evaluation_interval: number;
  language: "zh" | "en";
  /** Defaults for rules: `group_wait` (30 s) and `repeat_interval` (4 h), as Alertmanager's. */
  group_wait: number;
  repeat_interval: number;
  /** Longest one evaluation may take before it is cut off and reported, ms (default 5 s). */
  evaluation_timeout: number;
  /** Most undelivered messages kept per channel; older ones are dropped and counted (default 10,000). */
  outbox_limit: number;
  /** The agent's address as links in messages should show it (default: `server.listen`). */
  external_url: string;
  channels: Record<string, ChannelConfig>;
  rules: AlertRule[];
  silences: SilenceConfig[];
  inhibit_rules: InhibitRule[];
}

const ALERTS_KEYS = [
  "evaluation_interval",
  "language",
  "group_wait",
  "repeat_interval",
  "evaluation_timeout",
  "outbox_limit",
  "external_url",
  "channels",
  "rules",
  "silences",
  "inhibit_rules",
] as const satisfies readonly (keyof AlertsConfig)[];
const CHANNEL_KEYS = [
  "type",
  "url",
  "secret",
  "headers",
  "timeout",
  "retry_interval",
  "max_retry_interval",
  "max_age",
  "from",
  "to",
  "username",
  "password",
  "starttls",
] as const satisfies readonly (keyof ChannelConfig)[];
const RULE_KEYS = [
  "name",
  "for",
  "severity",
  "labels",
  "annotations",
  "channels",
  "group_by",
  "group_wait",
  "repeat_interval",
  ...CONDITION_KINDS,
] as const;
const SILENCE_KEYS = ["matchers", "starts_at", "ends_at", "author", "comment"] as const;

/** The labels each condition kind gives its alerts (besides `rule`, `severity` and the rule's own). */
export function conditionLabels(c: AlertCondition): string[] {
  switch (c.kind) {
    case "probe_down":
    case "cert_expiry":
      return ["probe"];
    case "backup_age":
      return ["job"];
    case "service_log":
      return ["log"];
    case "error_ratio":
    case "latency":
    case "absent":
      return c.source === "access_log"
        ? ["log", "route"]
        : c.source === "otlp"
        ? (c.kind === "error_ratio" && c.by_func ? ["service", "func"] : ["service"])
        : c.source === "probes"
        ? ["probe"]
        : ["source"];
    default:
      return [];
  }
}

const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What the rest of the config tells the alerts section. */
export interface AlertsContext {
  probes: readonly string[];
  retention: number;
  /** The API's address, for links. */
  apiUrl: string;
  /** The backup jobs' names (`backup_age`). */
  backups?: readonly string[];
  /** The `service_logs` entries' names (`service_log`). */
  serviceLogs?: readonly string[];
}

/** Validate `alerts:`; every problem goes to `r`. */
export function readAlerts(r: ConfigReader, value: unknown, ctx: AlertsContext): AlertsConfig {
  const o = r.object(value, "alerts", ALERTS_KEYS);
  const external = r.string(o.external_url, "alerts.external_url", "").replace(/\/+$/, "");
  if (external) r.url(external, "alerts.external_url", ["http:", "https:"]);
  const channels = readChannels(r, o.channels);
  // Rules may name a channel that has problems of its own: those are reported
  // at the channel, not again (as "not a channel") at every rule naming it.
  const declared = o.channels && typeof o.channels === "object" && !Array.isArray(o.channels)
    ? Object.keys(o.channels)
    : [];
  const defaults = {
    group_wait: r.duration(o.group_wait, "alerts.group_wait", 30_000),
    repeat_interval: r.duration(o.repeat_interval, "alerts.repeat_interval", 4 * 3_600_000, 60_000),
  };
  const rules: AlertRule[] = [];
  const seen = new Map<string, number>();
  (r.list(o.rules, "alerts.rules") ?? []).forEach((item, i) => {
    const rule = readRule(r, item, `alerts.rules[${i}]`, { ...ctx, declared, defaults });
    // A rule with problems still takes its name, so a duplicate is named at once.
    const raw = (item as { name?: unknown } | null)?.name;
    const name = rule?.name ??
      (typeof raw === "string" || typeof raw === "number" ? String(raw) : "");
    const first = name ? seen.get(name) : undefined;
    if (first !== undefined) {
      r.fail(
        `alerts.rules[${i}].name`,
        `${show(name)} is already used by alerts.rules[${first}]`,
      );
      return;
    }
    if (name) seen.set(name, i);
    if (rule) rules.push(rule);
  });
  const silences: SilenceConfig[] = [];
  (r.list(o.silences, "alerts.silences") ?? []).forEach((item, i) => {
    const s = readSilence(r, item, `alerts.silences[${i}]`);
    if (s) silences.push(s);
  });
  const inhibitRules = (r.list(o.inhibit_rules, "alerts.inhibit_rules") ?? []).map((item, i) => {
    const path = `alerts.inhibit_rules[${i}]`;
    const x = r.object(item, path, ["source_matchers", "target_matchers", "equal"]);
    return {
      source_matchers: readMatchers(r, x.source_matchers, `${path}.source_matchers`),
      target_matchers: readMatchers(r, x.target_matchers, `${path}.target_matchers`),
      equal: (r.list(x.equal, `${path}.equal`) ?? []).map((v, j) =>
        typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v)
          ? v
          : r.fail(`${path}.equal[${j}]`, `${show(v)} is not a label name`) ?? ""
      ),
    };
  });
  return {
    evaluation_interval: r.duration(
      o.evaluation_interval,
      "alerts.evaluation_interval",
      15_000,
      100,
    ),
    language: r.oneOf(o.language, "alerts.language", ["zh", "en"] as const, "zh"),
    ...defaults,
    evaluation_timeout: r.duration(o.evaluation_timeout, "alerts.evaluation_timeout", 5_000, 10),
    outbox_limit: r.integer(o.outbox_limit, "alerts.outbox_limit", 10_000, 1, 10_000_000),
    external_url: external || ctx.apiUrl,
    channels,
    rules,
    silences,
    inhibit_rules: inhibitRules,
  };
}

function readChannels(r: ConfigReader, value: unknown): Record<string, ChannelConfig> {
  const out: Record<string, ChannelConfig> = {};
  if (value === undefined || value === null) return out;
  if (typeof value !== "object" || Array.isArray(value)) {
    r.fail(
      "alerts.channels",
      `expected a mapping of channel names to channels, got ${show(value)}`,
    );
    return out;
  }
  for (const [name, raw] of Object.entries(value)) {
    const path = child("alerts.channels", name);
    if (!r.name(name, path)) continue;
    const c = readChannel(r, raw, path);
    if (c) out[name] = c;
  }
  return out;
}

function readChannel(r: ConfigReader, value: unknown, path: string): ChannelConfig | undefined {
  const before = r.problems.length;
  const o = r.object(value, path, CHANNEL_KEYS);
  if (o.type === undefined) r.fail(`${path}.type`, `is required (${CHANNEL_TYPES.join(" | ")})`);
  const type = r.oneOf(o.type, `${path}.type`, CHANNEL_TYPES, "webhook");
  const schemes = type === "email" ? ["smtp:", "smtps:"] : ["http:", "https:"];
  const url = r.url(o.url, `${path}.url`, schemes)?.href ?? "";
  const secret = r.string(o.secret, `${path}.secret`, "");
  if (secret && !["webhook", "dingtalk", "feishu"].includes(type)) {
    r.fail(`${path}.secret`, `is not used by ${type} channels`);
  }
  const emailOnly = ["from", "to", "username", "password", "starttls"] as const;
  for (const key of emailOnly) {
    if (type !== "email" && o[key] !== undefined) {
      r.fail(`${path}.${key}`, `is only used by email channels`);
    }
  }
  const to = (r.list(o.to, `${path}.to`) ?? []).map((v, i) => r.string(v, `${path}.to[${i}]`, ""));
  const from = r.string(o.from, `${path}.from`, "");
  if (type === "email") {
    if (!to.length) r.fail(`${path}.to`, "is required (a list of addresses)");
    if (!from) r.fail(`${path}.from`, "is required (the sender's address)");
    for (const [i, a] of [...to.entries(), [-1, from] as const]) {
      if (a && !/^[^\s@<>]+@[^\s@<>]+$/.test(a)) {
        r.fail(i < 0 ? `${path}.from` : `${path}.to[${i}]`, `${show(a)} is not an email address`);
      }
    }
  }
  const headers = readHeaders(r, o.headers, `${path}.headers`);
  const retry = r.duration(o.retry_interval, `${path}.retry_interval`, 1_000, 10);
  const channel: ChannelConfig = {
    type,
    url,
    secret,
    headers,
    timeout: r.duration(o.timeout, `${path}.timeout`, 10_000, 10),
    retry_interval: retry,
    max_retry_interval: Math.max(
      retry,
      r.duration(o.max_retry_interval, `${path}.max_retry_interval`, 300_000, 10),
    ),
    max_age: r.duration(o.max_age, `${path}.max_age`, 86_400_000, 1_000),
    from,
    to,
    username: r.string(o.username, `${path}.username`, ""),
    password: r.string(o.password, `${path}.password`, ""),
    starttls: r.boolean(o.starttls, `${path}.starttls`, true),
  };
  return r.problems.length === before ? channel : undefined;
}

interface RuleContext extends AlertsContext {
  /** Every name under `alerts.channels`, valid or not. */
  declared: readonly string[];
  defaults: { group_wait: number; repeat_interval: number };
}

function readRule(
  r: ConfigReader,
  value: unknown,
  path: string,
  ctx: RuleContext,
): AlertRule | undefined {
  const before = r.problems.length;
  const o = r.object(value, path, RULE_KEYS);
  if (o.name === undefined || o.name === null) r.fail(`${path}.name`, "is required");
  const name = r.string(o.name, `${path}.name`, "");
  if (name) r.name(name, `${path}.name`);
  const kinds = CONDITION_KINDS.filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    r.fail(
      path,
      kinds.length
        ? `has ${kinds.join(" and ")}: a rule has one condition`
        : `needs one condition (${CONDITION_KINDS.join(" | ")})`,
    );
    return undefined;
  }
  const condition = readCondition(r, kinds[0], o[kinds[0]], `${path}.${kinds[0]}`, ctx);
  const forMs = r.duration(o.for, `${path}.for`, 0);
  if (forMs > ctx.retention) {
    r.fail(`${path}.for`, `${show(o.for)} is longer than store.retention`);
  }
  const labels = readLabels(r, o.labels, `${path}.labels`);
  const channels = (r.list(o.channels, `${path}.channels`) ?? []).map((v, i) => {
    const c = r.string(v, `${path}.channels[${i}]`, "");
    if (!ctx.declared.includes(c)) {
      const known = ctx.declared;
      r.fail(
        `${path}.channels[${i}]`,
        `${show(c)} is not a channel in alerts.channels${
          known.length ? ` (known: ${known.join(", ")})` : " (none defined)"
        }`,
      );
    }
    return c;
  });
  const known = new Set([
    "rule",
    "severity",
    ...(condition ? conditionLabels(condition) : []),
    ...Object.keys(labels),
  ]);
  const groupBy = (r.list(o.group_by, `${path}.group_by`) ?? []).map((v, i) => {
    const l = r.string(v, `${path}.group_by[${i}]`, "");
    if (!known.has(l)) {
      r.fail(
        `${path}.group_by[${i}]`,
        `${show(l)} is not a label of this rule (${[...known].join(", ")})`,
      );
    }
    return l;
  });
  const annotations: Record<string, string> = {};
  const a = r.object(o.annotations, `${path}.annotations`, ["summary", "description"]);
  for (const key of ["summary", "description"] as const) {
    if (a[key] === undefined) continue;
    const text = r.string(a[key], `${path}.annotations.${key}`, "");
    const problem = templateProblem(text, known);
    if (problem) r.fail(`${path}.annotations.${key}`, problem);
    annotations[key] = text;
  }
  const rule: AlertRule = {
    name,
    condition: condition!,
    for: forMs,
    severity: r.oneOf(o.severity, `${path}.severity`, SEVERITIES, "warning"),
    labels,
    annotations,
    channels,
    group_by: groupBy,
    group_wait: r.duration(o.group_wait, `${path}.group_wait`, ctx.defaults.group_wait),
    repeat_interval: r.duration(
      o.repeat_interval,
      `${path}.repeat_interval`,
      ctx.defaults.repeat_interval,
      60_000,
    ),
  };
  return r.problems.length === before && condition ? rule : undefined;
}

function readLabels(r: ConfigReader, value: unknown, path: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (value === undefined || value === null) return labels;
  if (typeof value !== "object" || Array.isArray(value)) {
    r.fail(path, `expected a mapping of label names to values, got ${show(value)}`);
    return labels;
  }
  for (const [k, v] of Object.entries(value)) {
    if (!LABEL_RE.test(k)) r.fail(child(path, k), `${show(k)} is not a label name`);
    else if (k === "rule" || k === "severity") {
      r.fail(child(path, k), `${show(k)} is set by the rule itself`);
    } else labels[k] = r.string(v, child(path, k), "");
  }
  return labels;
}

const CONDITION_KEYS: Record<ConditionKind, readonly string[]> = {
  probe_down: ["probes"],
  error_ratio: [
    "source",
    "service",
    "func",
    "by",
    "probes",
    "route",
    "window",
    "threshold",
    "min_requests",
  ],
  latency: ["source", "service", "probes", "quantile", "window", "above", "min_requests"],
  node_log: ["level", "keywords", "regex", "count", "window"],
  absent: ["source", "service", "probes", "window"],
  cert_expiry: ["probes", "days"],
  store_budget: ["above"],
  log_drops: ["window", "min"],
  backup_age: ["jobs", "older_than"],
  service_log: ["logs", "levels", "keywords_only", "count", "window"],
};

function readCondition(
  r: ConfigReader,
  kind: ConditionKind,
  value: unknown,
  path: string,
  ctx: RuleContext,
): AlertCondition | undefined {
  const o = r.object(value, path, CONDITION_KEYS[kind]);
  /** Names or globs under `key` (default `*`), each naming one of `known` (a `noun` of `section`). */
  const globs = (key: string, known: readonly string[], noun: string, section: string) => {
    const list = o[key] === undefined
      ? ["*"]
      : (r.list(o[key], `${path}.${key}`) ?? []).map((v, i) =>
        r.string(v, `${path}.${key}[${i}]`, "")
      );
    list.forEach((g, i) => {
      if (!known.some((p) => globMatch(g, p))) {
        r.fail(
          `${path}.${key}${o[key] === undefined ? "" : `[${i}]`}`,
          `${show(g)} names no ${noun} (${section}: ${known.join(", ") || "none"})`,
        );
      }
    });
    return list;
  };
  const probeGlobs = (key = "probes") => globs(key, ctx.probes, "probe", "probes");
  const source = () => {
    if (o.source === undefined) {
      r.fail(`${path}.source`, `is required (${ALERT_SOURCES.join(" | ")})`);
    }
    return r.oneOf(o.source, `${path}.source`, ALERT_SOURCES, "otlp");
  };
  const match = (src: AlertSource) => {
    if (o.route !== undefined && src !== "access_log") {
      r.fail(`${path}.route`, "is for source access_log");
    }
    if (src === "access_log") {
      if (o.service !== undefined) r.fail(`${path}.service`, "is for source otlp (use route)");
      if (o.probes !== undefined) r.fail(`${path}.probes`, "is for source probes (use route)");
      const rt = o.route;
      if (rt === undefined) return ["*"];
      return Array.isArray(rt)
        ? rt.map((v, i) => r.string(v, `${path}.route[${i}]`, ""))
        : [r.string(rt, `${path}.route`, "*")];
    }
    if (src === "probes") {
      if (o.service !== undefined) r.fail(`${path}.service`, "is for source otlp (use probes)");
      return probeGlobs();
    }
    if (o.probes !== undefined) r.fail(`${path}.probes`, "is for source probes");
    if (src === "workflow") {
      if (o.service !== undefined) r.fail(`${path}.service`, "is for source otlp");
      return [];
    }
    const s = o.service;
    if (s === undefined) return ["*"];
    return Array.isArray(s)
      ? s.map((v, i) => r.string(v, `${path}.service[${i}]`, ""))
      : [r.string(s, `${path}.service`, "*")];
  };
  const window = () => {
    const w = r.duration(o.window, `${path}.window`, 300_000, 60_000);
    if (w > ctx.retention) {
      r.fail(`${path}.window`, `${show(o.window)} is longer than store.retention`);
    }
    return w;
  };
  switch (kind) {
    case "probe_down":
      return { kind, probes: probeGlobs() };
    case "cert_expiry":
      return { kind, probes: probeGlobs(), days: r.integer(o.days, `${path}.days`, 14, 0, 3650) };
    case "error_ratio": {
      const src = source();
      if (o.by !== undefined && o.by !== "func" && o.by !== "service") {
        r.fail(`${path}.by`, `${show(o.by)} is not one of service | func`);
      }
      if ((o.by !== undefined || o.func !== undefined) && src !== "otlp") {
        r.fail(`${path}.${o.by !== undefined ? "by" : "func"}`, "is for source otlp");
      }
      return {
        kind,
        source: src,
        match: match(src),
        by_func: o.by === "func",
        func: r.string(o.func, `${path}.func`, "*"),
        window: window(),
        threshold: ratio(r, o.threshold, `${path}.threshold`, 0.01),
        min_requests: r.integer(o.min_requests, `${path}.min_requests`, 1, 1, 1e12),
      };
    }
    case "latency": {
      const src = source();
      if (src === "access_log") {
        r.fail(`${path}.source`, "access_log is a source of error_ratio only");
      }
      const q = r.oneOf(o.quantile, `${path}.quantile`, ["p50", "p90", "p99"] as const, "p99");
      if (o.above === undefined) r.fail(`${path}.above`, "is required (a duration, like 500ms)");
      return {
        kind,
        source: src,
        match: match(src),
        quantile: q === "p50" ? 0.5 : q === "p90" ? 0.9 : 0.99,
        window: window(),
        above: r.duration(o.above, `${path}.above`, 1_000, 0),
        min_requests: r.integer(o.min_requests, `${path}.min_requests`, 1, 1, 1e12),
      };
    }
    case "node_log": {
      let regex: RegExp | undefined;
      if (o.regex !== undefined) {
        const src = r.string(o.regex, `${path}.regex`, "");
        try {
          regex = new RegExp(src);
        } catch {
          r.fail(`${path}.regex`, `${show(src)} is not a valid regular expression`);
        }
      }
      const keywords = o.keywords === undefined
        ? (regex ? [] : ["Exception", "Timeout"])
        : (r.list(o.keywords, `${path}.keywords`) ?? []).map((v, i) =>
          r.string(v, `${path}.keywords[${i}]`, "")
        );
      return {
        kind,
        // The store indexes runs with an ERROR node log; other levels are not kept apart.
        level: r.oneOf(o.level, `${path}.level`, ["ERROR"] as const, "ERROR"),
        keywords,
        regex,
        count: r.integer(o.count, `${path}.count`, 1, 1, 1e9),
        window: window(),
      };
    }
    case "absent": {
      const src = source();
      if (src === "access_log") {
        r.fail(`${path}.source`, "access_log is a source of error_ratio only");
      }
      return { kind, source: src, match: match(src), window: window() };
    }
    case "store_budget":
      return { kind, above: ratio(r, o.above, `${path}.above`, 0.9) };
    case "log_drops":
      return { kind, window: window(), min: r.integer(o.min, `${path}.min`, 1, 1, 1e12) };
    case "service_log": {
      const logs = globs("logs", ctx.serviceLogs ?? [], "service log", "service_logs");
      const levels = o.levels === undefined
        ? ["ERROR", "CRITICAL"]
        : (r.list(o.levels, `${path}.levels`) ?? []).map((v, i) =>
          r.string(v, `${path}.levels[${i}]`, "").toUpperCase()
        );
      return {
        kind,
        logs,
        levels,
        keywords_only: r.boolean(o.keywords_only, `${path}.keywords_only`, false),
        count: r.integer(o.count, `${path}.count`, 1, 1, 1e9),
        window: window(),
      };
    }
    case "backup_age": {
      const jobs = globs("jobs", ctx.backups ?? [], "backup job", "backups");
      if (o.older_than === undefined) r.fail(`${path}.older_than`, "is required (like 26h)");
      return {
        kind,
        jobs,
        older_than: r.duration(o.older_than, `${path}.older_than`, 26 * 3_600_000, 60_000),
      };
    }
  }
}

/** A ratio as `1%`, `0.01` or `"0.5%"`; within 0-1. */
function ratio(r: ConfigReader, value: unknown, path: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(v >= 0 && v <= 1)) {
    return r.fail(path, `${show(value)} is not a ratio (like 1%, 0.5%, 0.01)`) ?? fallback;
  }
  return v;
}

/** A required, non-empty list of matchers like `rule="x"` or `probe=~"redis.*"`. */
function readMatchers(r: ConfigReader, value: unknown, path: string): SilenceMatcher[] {
  const matchers: SilenceMatcher[] = [];
  const list = r.list(value, path);
  if (!list?.length) r.fail(path, `is required (like ["rule=service-down"])`);
  (list ?? []).forEach((v, i) => {
    const m = typeof v === "string" ? parseMatcher(v) : undefined;
    if (!m) {
      r.fail(`${path}[${i}]`, `${show(v)} is not a matcher like rule="x" or probe=~"redis.*"`);
    } else matchers.push(m);
  });
  return matchers;
}

function readSilence(r: ConfigReader, value: unknown, path: string): SilenceConfig | undefined {
  const before = r.problems.length;
  const o = r.object(value, path, SILENCE_KEYS);
  const matchers = readMatchers(r, o.matchers, `${path}.matchers`);
  const time = (key: "starts_at" | "ends_at", fallback?: number) => {
    const v = o[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) r.fail(`${path}.${key}`, "is required (an ISO 8601 time)");
      return fallback ?? 0;
    }
    const t = v instanceof Date ? v.getTime() : Date.parse(String(v));
    if (Number.isNaN(t)) return r.fail(`${path}.${key}`, `${show(v)} is not an ISO 8601 time`) ?? 0;
    return t;
  };
  const silence: SilenceConfig = {
    matchers,
    starts_at: time("starts_at", 0),
    ends_at: time("ends_at"),
    author: r.string(o.author, `${path}.author`, "config"),
    comment: r.string(o.comment, `${path}.comment`, ""),
  };
  if (silence.ends_at <= silence.starts_at && r.problems.length === before) {
    r.fail(`${path}.ends_at`, "is not after starts_at");
  }
  return r.problems.length === before ? silence : undefined;
}
