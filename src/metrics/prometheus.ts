/**
 * `/metrics`: a pull reader on the OpenTelemetry meter provider and the
 * Prometheus text exposition (format 0.0.4) of what it collects.
 *
 * Names are the instruments' own, except that a monotonic counter gets the
 * `_total` suffix Prometheus requires when it lacks one (`rely_server_request`
 * is scraped as `rely_server_request_total`, as the OpenTelemetry Collector's
 * Prometheus exporter also names it).
 *
 * @module
 */

import {
  DataPointType,
  type Histogram,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";

/** A reader that collects only when asked (on each scrape). */
export class PullMetricReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The content type of the text exposition. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Collect from `reader` and render the Prometheus text exposition. */
export async function scrape(reader: MetricReader): Promise<string> {
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length) throw new Error(`metric collection failed: ${errors[0]}`);
  return serialize(resourceMetrics);
}

/**
 * Render collected metrics as Prometheus text. A name that more than one
 * instrumentation scope reports is one family: its points carry an
 * `otel_scope_name` label so their label sets stay apart. A scope whose
 * metric has the name of another type is left out with a comment saying so.
 */
export function serialize(rm: ResourceMetrics): string {
  const families = new Map<string, Family>();
  const scopesOf = new Map<string, Set<string>>();
  for (const scope of rm.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = familyName(metric);
      if (!name || metric.dataPoints.length === 0) continue;
      let scopes = scopesOf.get(name);
      if (!scopes) scopesOf.set(name, scopes = new Set());
      scopes.add(scope.scope.name);
    }
  }
  for (const scope of rm.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = familyName(metric);
      if (!name || metric.dataPoints.length === 0) continue;
      const type = typeOf(metric)!;
      let family = families.get(name);
      if (!family) {
        const help = escapeHelp(metric.descriptor.description || metric.descriptor.name);
        families.set(
          name,
          family = { type, lines: [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`] },
        );
      }
      if (family.type !== type) {
        family.lines.push(
          `# ${name} from scope ${
            JSON.stringify(scope.scope.name)
          } left out: a ${type}, not a ${family.type}`,
        );
        continue;
      }
      const extra: Record<string, unknown> = scopesOf.get(name)!.size > 1
        ? { otel_scope_name: scope.scope.name }
        : {};
      for (const point of metric.dataPoints) {
        const labels = { ...(point.attributes as Record<string, unknown>), ...extra };
        if (type !== "histogram") {
          family.lines.push(`${name}${renderLabels(labels)} ${num(point.value as number)}`);
          continue;
        }
        const h = point.value as Histogram;
        let cumulative = 0;
        h.buckets.boundaries.forEach((bound, i) => {
          cumulative += h.buckets.counts[i];
          family!.lines.push(
            `${name}_bucket${renderLabels(labels, ["le", num(bound)])} ${cumulative}`,
          );
        });
        family.lines.push(`${name}_bucket${renderLabels(labels, ["le", "+Inf"])} ${h.count}`);
        family.lines.push(`${name}_sum${renderLabels(labels)} ${num(h.sum ?? 0)}`);
        family.lines.push(`${name}_count${renderLabels(labels)} ${h.count}`);
      }
    }
  }
  let out = "";
  for (const f of families.values()) out += f.lines.join("\n") + "\n";
  return out;
}

interface Family {
  type: "counter" | "gauge" | "histogram";
  lines: string[];
}

type Metric = ResourceMetrics["scopeMetrics"][number]["metrics"][number];

function typeOf(metric: Metric): Family["type"] | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? "counter" : "gauge";
    case DataPointType.GAUGE:
      return "gauge";
    case DataPointType.HISTOGRAM:
      return "histogram";
    default:
      return undefined; // exponential histograms are not used here
  }
}

/** The exposition name (counters end in `_total`), or undefined for a type not exposed. */
function familyName(metric: Metric): string | undefined {
  const type = typeOf(metric);
  if (!type) return undefined;
  const name = sanitizeName(metric.descriptor.name);
  return type === "counter" && !name.endsWith("_total") ? name + "_total" : name;
}

/** Part of the text exposition format (shared with the rollups' exposition). */
export function sanitizeName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function renderLabels(labels: Record<string, unknown>, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (v === undefined || v === null) continue;
    parts.push(`${sanitizeLabel(k)}="${escapeValue(String(v))}"`);
  }
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Part of the text exposition format (shared with the rollups' exposition). */
export function sanitizeLabel(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** Part of the text exposition format (shared with the rollups' exposition). */
export function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Part of the text exposition format (shared with the rollups' exposition). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the text format writes it (`NaN`, `+Inf`, `-Inf`). */
export function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
