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

/** Render collected metrics as Prometheus text. */
export function serialize(rm: ResourceMetrics): string {
  let out = "";
  const seen = new Set<string>();
  for (const scope of rm.scopeMetrics) {
    for (const metric of scope.metrics) {
      const { descriptor } = metric;
      let name = sanitizeName(descriptor.name);
      let type: "counter" | "gauge" | "histogram";
      if (metric.dataPointType === DataPointType.SUM) {
        type = metric.isMonotonic ? "counter" : "gauge";
        if (type === "counter" && !name.endsWith("_total")) name += "_total";
      } else if (metric.dataPointType === DataPointType.GAUGE) {
        type = "gauge";
      } else if (metric.dataPointType === DataPointType.HISTOGRAM) {
        type = "histogram";
      } else {
        continue; // exponential histograms are not used here
      }
      if (seen.has(name) || metric.dataPoints.length === 0) continue;
      seen.add(name);
      out += `# HELP ${name} ${escapeHelp(descriptor.description || descriptor.name)}\n`;
      out += `# TYPE ${name} ${type}\n`;
      for (const point of metric.dataPoints) {
        const labels = point.attributes as Record<string, unknown>;
        if (type !== "histogram") {
          out += `${name}${renderLabels(labels)} ${num(point.value as number)}\n`;
          continue;
        }
        const h = point.value as Histogram;
        let cumulative = 0;
        h.buckets.boundaries.forEach((bound, i) => {
          cumulative += h.buckets.counts[i];
          out += `${name}_bucket${renderLabels(labels, ["le", num(bound)])} ${cumulative}\n`;
        });
        out += `${name}_bucket${renderLabels(labels, ["le", "+Inf"])} ${h.count}\n`;
        out += `${name}_sum${renderLabels(labels)} ${num(h.sum ?? 0)}\n`;
        out += `${name}_count${renderLabels(labels)} ${h.count}\n`;
      }
    }
  }
  return out;
}

function sanitizeName(name: string): string {
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

function sanitizeLabel(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
