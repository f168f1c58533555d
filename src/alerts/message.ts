/**
 * What a notification says: each alert as the outbox keeps it
 * ({@linkcode OutAlert}), the versioned JSON the `webhook` channel posts
 * ({@linkcode WebhookBody}, schema version "1", documented in the README),
 * and the text chat channels show, in the group's language (`zh` or `en`).
 *
 * @module
 */

import type { AlertRule } from "../config/alerts.ts";
import type { AlertEvent } from "./lifecycle.ts";
import { renderTemplate } from "./template.ts";

/** One alert in a notification, as queued. */
export interface OutAlert {
  status: "firing" | "resolved";
  /** A `repeat_interval` reminder, or an Alertmanager refresh, of an alert already sent. */
  repeat?: boolean;
  rule: string;
  severity: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
  value: number;
  value_text: string;
  /** When it started firing (epoch ms). */
  starts_at: number;
  /** When it resolved (epoch ms). */
  ends_at?: number;
  /** The alert on the agent's API. */
  link: string;
  /** The instance key (rule and labels). */
  key: string;
}

/** The JSON body of a `webhook` notification, schema version "1". */
export interface WebhookBody {
  version: "1";
  source: "astron-watch";
  /** `firing` while any alert in it fires. */
  status: "firing" | "resolved";
  group: { rule: string; labels: Record<string, string> };
  alerts: {
    status: "firing" | "resolved";
    repeat: boolean;
    rule: string;
    severity: string;
    labels: Record<string, string>;
    annotations: { summary: string; description: string };
    value: number;
    value_text: string;
    starts_at: string;
    ends_at: string | null;
    link: string;
  }[];
  external_url: string;
  sent_at: string;
}

/** A group of alerts going to one channel in one message. */
export interface Notification {
  group: { rule: string; labels: Record<string, string> };
  alerts: OutAlert[];
  externalUrl: string;
  language: "zh" | "en";
}

/** The group an instance's notifications go in: its rule and the rule's `group_by` labels. */
export function groupOf(rule: AlertRule, labels: Record<string, string>) {
  const values: Record<string, string> = {};
  for (const l of rule.group_by) values[l] = labels[l] ?? "";
  return { rule: rule.name, labels: values };
}

/** Who or what an alert is about: `core-workflow/chat`, `redis`, `workflow runs`. */
function subject(labels: Record<string, string>, zh: boolean): string {
  if (labels.service) return labels.func ? `${labels.service}/${labels.func}` : labels.service;
  if (labels.probe) return labels.probe;
  if (labels.job) return labels.job;
  if (labels.log) return labels.route ? `${labels.log} ${labels.route}` : labels.log;
  if (labels.source === "workflow") return zh ? "工作流运行" : "workflow runs";
  return "";
}

const SUMMARY: Record<string, { zh: string; en: string }> = {
  probe_down: { zh: "探测 {s} 不可用", en: "probe {s} is down" },
  error_ratio: { zh: "{s} 错误率 {v}", en: "error ratio of {s} is {v}" },
  latency: { zh: "{s} 延迟 {v}", en: "latency of {s} is {v}" },
  node_log: { zh: "节点日志出现 ERROR：{v}", en: "ERROR node logs in {v}" },
  absent: { zh: "{s} 无数据：{v}", en: "no data from {s}: {v}" },
  cert_expiry: { zh: "{s} 证书即将过期：{v}", en: "certificate of {s} expires soon: {v}" },
  store_budget: { zh: "存储已用 {v}", en: "the store is {v} full" },
  log_drops: { zh: "自身日志丢弃：{v}", en: "own log dropped lines: {v}" },
  backup_age: { zh: "备份 {s}：{v}", en: "backup {s}: {v}" },
  service_log: { zh: "服务日志 {s} 出现 {v}", en: "service log {s}: {v}" },
};

/** The alert as queued for a channel: annotations rendered from the rule's templates or the defaults. */
export function outAlert(
  rule: AlertRule,
  event: AlertEvent,
  externalUrl: string,
  language: "zh" | "en",
): OutAlert {
  const i = event.instance;
  const link = `${externalUrl}/api/v1/alerts?rule=${encodeURIComponent(rule.name)}`;
  const data = {
    value: i.text,
    rule: rule.name,
    severity: rule.severity,
    link,
    details: i.details ?? "",
    labels: i.labels,
  };
  const zh = language === "zh";
  const fallback = SUMMARY[rule.condition.kind][language]
    .replace("{s}", subject(i.labels, zh)).replace("{v}", i.text);
  return {
    status: event.type === "resolved" ? "resolved" : "firing",
    repeat: event.type === "repeat" || undefined,
    rule: rule.name,
    severity: rule.severity,
    labels: i.labels,
    annotations: {
      summary: rule.annotations.summary !== undefined
        ? renderTemplate(rule.annotations.summary, data)
        : fallback,
      description: rule.annotations.description !== undefined
        ? renderTemplate(rule.annotations.description, data)
        : i.details ?? "",
    },
    value: i.value,
    value_text: i.text,
    starts_at: i.firing_since ?? i.active_since,
    ends_at: event.type === "resolved" ? event.at : undefined,
    link,
    key: i.key,
  };
}

/** The webhook channel's body. */
export function webhookBody(n: Notification, now: number): WebhookBody {
  return {
    version: "1",
    source: "astron-watch",
    status: n.alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
    group: n.group,
    alerts: n.alerts.map((a) => ({
      status: a.status,
      repeat: a.repeat ?? false,
      rule: a.rule,
      severity: a.severity,
      labels: a.labels,
      annotations: a.annotations,
      value: a.value,
      value_text: a.value_text,
      starts_at: new Date(a.starts_at).toISOString(),
      ends_at: a.ends_at === undefined ? null : new Date(a.ends_at).toISOString(),
      link: a.link,
    })),
    external_url: n.externalUrl,
    sent_at: new Date(now).toISOString(),
  };
}

/** Local time as `2026-11-26 10:00:00` for chat messages. */
function timeText(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** A title and a markdown body for chat channels, in the group's language. */
export function chatText(n: Notification): { title: string; text: string; firing: boolean } {
  const zh = n.language === "zh";
  const firing = n.alerts.filter((a) => a.status === "firing");
  const resolved = n.alerts.filter((a) => a.status === "resolved");
  const severity = n.alerts[0]?.severity ?? "warning";
  const head = firing.length
    ? (zh ? `【告警】${n.group.rule}` : `[FIRING:${firing.length}] ${n.group.rule}`)
    : (zh ? `【已恢复】${n.group.rule}` : `[RESOLVED] ${n.group.rule}`);
  const lines = [`**${head}** (${severity})`];
  const item = (a: OutAlert) => {
    const when = a.status === "firing"
      ? `${zh ? "开始" : "since"} ${timeText(a.starts_at)}`
      : `${zh ? "恢复于" : "resolved at"} ${timeText(a.ends_at ?? a.starts_at)}`;
    lines.push(`- ${a.annotations.summary} (${when})`);
    if (a.annotations.description) {
      for (const l of a.annotations.description.split("\n").slice(0, 6)) lines.push(`  ${l}`);
    }
  };
  if (firing.length) firing.forEach(item);
  if (resolved.length) {
    if (firing.length) lines.push(zh ? "已恢复：" : "Resolved:");
    resolved.forEach(item);
  }
  lines.push(`[${zh ? "查看" : "details"}](${n.alerts[0]?.link ?? n.externalUrl})`);
  return { title: head, text: lines.join("\n"), firing: firing.length > 0 };
}
