/**
 * `astron-watch alerts export --prometheus`: the rules that have a PromQL
 * form as a Prometheus rule file, over the names this agent exposes on
 * `/metrics` (`probe_success`, `probe_ssl_earliest_cert_expiry`, the
 * probes' own `server_request_total` and latency histogram, and, with
 * `otlp_receiver.expose_metrics: true`, the platform's received metrics
 * with their sender as `service`). Rules over workflow runs, node logs or
 * the store have none; they are listed with the reason.
 *
 * @module
 */

import { stringify } from "yaml";
import type { AlertRule } from "../config/alerts.ts";

/** A rule's PromQL, or why it has none. */
export type PromqlForm = { expr: string } | { none: string };

/** A glob list as a PromQL label matcher: `probe=~"redis|pg-.*"` (or `=` for one plain name). */
function matcher(label: string, globs: readonly string[]): string {
  if (globs.length === 1 && !/[*?]/.test(globs[0])) return `${label}=${JSON.stringify(globs[0])}`;
  if (globs.includes("*")) return `${label}=~".+"`;
  const re = globs.map((g) =>
    g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")
  ).join("|");
  return `${label}=~${JSON.stringify(re)}`;
}

/**
 * A duration as Prometheus writes it: whole units only, largest first
 * (`90s` is `1m30s`; Prometheus refuses `1.5m`, the form of `formatDuration`).
 */
function promDuration(ms: number): string {
  if (ms <= 0) return "0s";
  const units = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const;
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return rest > 0 ? `${out}${rest}ms` : out;
}

const range = (ms: number) => `[${promDuration(ms)}]`;

/** The PromQL expression of a rule's condition, or why there is none. */
export function promqlOf(rule: AlertRule): PromqlForm {
  const c = rule.condition;
  switch (c.kind) {
    case "probe_down":
      return { expr: `probe_success{${matcher("probe", c.probes)}} == 0` };
    case "cert_expiry":
      return {
        expr: `(probe_ssl_earliest_cert_expiry{${
          matcher("probe", c.probes)
        }} - time()) / 86400 < ${c.days}`,
      };
    case "error_ratio": {
      if (c.source === "workflow") {
        return { none: "workflow runs are in the store, not in metrics" };
      }
      if (c.source === "access_log") {
        const sel = matcher("route", c.match);
        const total = `sum by (route) (increase(nginx_http_requests_total{${sel}}${
          range(c.window)
        }))`;
        const errors = `sum by (route) (increase(nginx_http_requests_total{${sel}, status=~"5.."}${
          range(c.window)
        }))`;
        return {
          expr: `(${errors} / ${total}) > ${c.threshold} and ${total} >= ${c.min_requests}`,
        };
      }
      const label = c.source === "otlp" ? "service" : "probe";
      const by = c.source === "otlp" && c.by_func ? "service, func" : label;
      const sel = [matcher(label, c.match)];
      if (c.source === "otlp" && c.func !== "*") sel.push(matcher("func", [c.func]));
      const total = `sum by (${by}) (increase(server_request_total{${sel.join(", ")}}${
        range(c.window)
      }))`;
      const errors = `sum by (${by}) (increase(server_request_total{${
        [...sel, `ret!="0"`].join(", ")
      }}${range(c.window)}))`;
      return {
        expr: `(${errors} / ${total}) > ${c.threshold} and ${total} >= ${c.min_requests}`,
      };
    }
    case "latency": {
      if (c.source === "workflow") {
        return { none: "workflow runs are in the store, not in metrics" };
      }
      const label = c.source === "otlp" ? "service" : "probe";
      return {
        expr: `histogram_quantile(${c.quantile}, sum by (${label}, le) (rate(` +
          `server_request_time_microseconds_bucket{${matcher(label, c.match)}}${
            range(c.window)
          }))) > ${c.above}`,
      };
    }
    case "absent": {
      if (c.source === "workflow") {
        return { none: "workflow runs are in the store, not in metrics" };
      }
      const label = c.source === "otlp" ? "service" : "probe";
      if (c.match.some((g) => /[*?]/.test(g))) {
        return { none: "absent() needs each name spelt out, not a glob" };
      }
      const metric = c.source === "otlp" ? "server_request_total" : "probe_success";
      return {
        expr: c.match.map((m) =>
          `absent_over_time(${metric}{${matcher(label, [m])}}${range(c.window)})`
        ).join(" or "),
      };
    }
    case "log_drops":
      return {
        expr: `increase(astron_watch_log_dropped_lines_total${range(c.window)}) >= ${c.min}`,
      };
    case "node_log":
      return { none: "node logs are in the workflow runs in the store, not in metrics" };
    case "store_budget":
      return { none: "the store's size is not exported as a metric" };
    case "service_log":
      if (c.keywords_only) {
        return { none: "keyword matches are counted in the store, not in metrics" };
      }
      return {
        expr: `sum by (file) (increase(astron_watch_service_log_lines_total{level=~"${
          c.levels.join("|")
        }"}${range(c.window)})) >= ${c.count}`,
      };
    case "backup_age":
      return {
        expr: `time() - astron_watch_backup_last_success_timestamp_seconds{${
          matcher("job", c.jobs)
        }} > ${Math.round(c.older_than / 1000)}`,
      };
  }
}

/** The rule file: one group, `astron-watch`; rules with no form as YAML comments at the end. */
export function prometheusRules(rules: readonly AlertRule[]): string {
  const out: Record<string, unknown>[] = [];
  const skipped: string[] = [];
  for (const rule of rules) {
    const form = promqlOf(rule);
    if ("none" in form) {
      skipped.push(`# ${rule.name} (${rule.condition.kind}): no PromQL form: ${form.none}`);
      continue;
    }
    const r: Record<string, unknown> = { alert: rule.name, expr: form.expr };
    if (rule.for > 0) r.for = promDuration(rule.for);
    r.labels = { severity: rule.severity, ...rule.labels };
    const ann: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule.annotations)) {
      // Prometheus knows $labels and $value; the agent's own variables become text.
      ann[k] = v.replace(/\{\{\s*\$rule\s*\}\}/g, rule.name)
        .replace(/\{\{\s*\$severity\s*\}\}/g, rule.severity)
        .replace(/\{\{\s*\$link\s*\}\}/g, "{{ $externalURL }}")
        .replace(/\{\{\s*\$details\s*\}\}/g, "");
    }
    if (Object.keys(ann).length) r.annotations = ann;
    out.push(r);
  }
  const head =
    "# Prometheus alerting rules exported by astron-watch (alerts export --prometheus).\n";
  return head + stringify({ groups: [{ name: "astron-watch", rules: out }] }, { lineWidth: 0 }) +
    (skipped.length ? skipped.join("\n") + "\n" : "");
}
