/**
 * Probe results as metrics: each run through the platform's facade
 * (`kind: server` -> `server_*`, `kind: rely` -> `rely_server_*`, labelled
 * with `probe` and `target`, `func` = the probe type), plus the
 * blackbox_exporter gauges existing dashboards read: `probe_success`,
 * `probe_duration_seconds`, `probe_http_status_code`,
 * `probe_ssl_earliest_cert_expiry`; and one span per run with its result.
 *
 * @module
 */

import { SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { ProbeConfig } from "../config/schema.ts";
import type { PlatformMetrics } from "../metrics/meter.ts";
import { type ProbeBoard, probeTarget } from "./board.ts";
import type { ProbeResult } from "./types.ts";

/**
 * The `ret` label of a run, from its code (never its reason): `0` when up,
 * the HTTP status when the status failed the check, else the code itself
 * (`timeout`, `refused`, `dns`, `tls`, `body`, ...).
 */
export function resultRet(result: ProbeResult): string {
  if (result.ok) return "0";
  if (result.code === "status" && result.status !== undefined) return String(result.status);
  return result.code;
}

/** Wires probe runs to the metrics and spans. */
export class ProbeMetrics {
  readonly #metrics: PlatformMetrics;
  readonly #tracer?: Tracer;

  constructor(metrics: PlatformMetrics, board: ProbeBoard, tracer?: Tracer) {
    this.#metrics = metrics;
    this.#tracer = tracer;
    const meter = metrics.otelMeter;
    const gauges = {
      success: meter.createObservableGauge("probe_success", {
        description: "Whether the last probe run succeeded (blackbox_exporter).",
      }),
      duration: meter.createObservableGauge("probe_duration_seconds", {
        description: "How long the last probe run took, in seconds (blackbox_exporter).",
      }),
      status: meter.createObservableGauge("probe_http_status_code", {
        description: "HTTP status of the last probe run (blackbox_exporter).",
      }),
      cert: meter.createObservableGauge("probe_ssl_earliest_cert_expiry", {
        description: "Earliest TLS certificate expiry, epoch seconds (blackbox_exporter).",
      }),
    };
    meter.addBatchObservableCallback((observer) => {
      for (const s of board.list()) {
        if (!s.last) continue;
        const labels = { probe: s.name, target: s.target };
        observer.observe(gauges.success, s.last.ok ? 1 : 0, labels);
        observer.observe(gauges.duration, s.last.phases.total / 1000, labels);
        if (s.last.status !== undefined) observer.observe(gauges.status, s.last.status, labels);
        const expiry = (s.last as { cert_expiry?: number }).cert_expiry;
        if (expiry !== undefined) observer.observe(gauges.cert, expiry, labels);
      }
    }, Object.values(gauges));
  }

  /** Call as a run starts; call what it returns with the result. */
  start(config: ProbeConfig): (result: ProbeResult) => void {
    const target = probeTarget(config);
    const meter = this.#metrics.meter({
      kind: config.kind,
      func: config.type,
      labels: { probe: config.name, target },
    });
    meter.begin();
    const span = this.#tracer?.startSpan(`probe ${config.name}`, {
      attributes: {
        "probe.name": config.name,
        "probe.type": config.type,
        "probe.kind": config.kind,
        "probe.target": target,
      },
    });
    return (result) => {
      const durationMs = result.phases.total;
      const ret = resultRet(result);
      if (result.ok) meter.inSuccessCount({ durationMs });
      else meter.inErrorCount(ret, { durationMs });
      if (!span) return;
      span.setAttribute("code", ret);
      for (const [phase, ms] of Object.entries(result.phases)) {
        span.setAttribute(`probe.phase.${phase}_ms`, ms);
      }
      if (result.status !== undefined) {
        span.setAttribute("http.response.status_code", result.status);
      }
      if (!result.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: result.reason });
      span.end();
    };
  }
}
