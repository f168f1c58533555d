/**
 * The rollup queries from text (URL parameters or shell flags), checked once
 * at the edge: each mistake names the parameter and the value.
 *
 * @module
 */

import { parseDuration } from "../config/units.ts";
import {
  checkParams,
  type FilterResult,
  ParamError,
  show,
  timeParam,
  withParams,
} from "../query_params.ts";

/** The services summary's window. */
export interface ServicesQuery {
  /** How far back from `until`, ms. */
  window: number;
  /** The end of the window (now), epoch ms. */
  until: number;
}

/** One metric over a range. */
export interface MetricQuery {
  name: string;
  /** Label names to group by (`service` is the sending service). */
  by: string[];
  /** Epoch ms; the range starts at this minute. */
  since: number;
  until: number;
  /** Step in ms, a whole number of minutes. */
  step: number;
  /** The quantile for histograms, 0 to 1. */
  q: number;
  /** Only this service's series. */
  service?: string;
}

/** Parameters {@linkcode parseServicesQuery} takes. */
export const SERVICES_PARAMS = ["window"] as const;
/** Parameters {@linkcode parseMetricQuery} takes. */
export const METRIC_QUERY_PARAMS = [
  "name",
  "by",
  "since",
  "until",
  "step",
  "q",
  "service",
] as const;

/** The longest window or range a query may span. */
export const MAX_RANGE = 400 * 86_400_000;
/** Most steps a query may have (as Prometheus' 11,000 points per series). */
export const MAX_STEPS = 11_000;

function duration(text: string, key: string, min: number, max: number): number {
  const ms = parseDuration(text);
  if (ms === undefined || !/[a-z]$/i.test(text.trim())) {
    throw new ParamError(`${key}: ${show(text)} is not a duration like "5m" or "1h"`);
  }
  if (ms < min || ms > max) {
    throw new ParamError(
      `${key}: ${show(text)} is outside ${min / 60_000}m to ${max / 86_400_000}d`,
    );
  }
  return ms;
}

/**
 * The services summary's window from `window` (default `5m`, at least 1m).
 *
 * @example
 * ```ts
 * parseServicesQuery({ window: "15m" }, Date.now()); // { ok: true, value: { window: 900000, until: ... } }
 * ```
 */
export function parseServicesQuery(
  params: Record<string, string | undefined>,
  now: number,
): FilterResult<ServicesQuery> {
  return withParams(() => {
    checkParams(params, SERVICES_PARAMS);
    const w = params.window;
    const window = w === undefined || w === "" ? 300_000 : duration(w, "window", 60_000, MAX_RANGE);
    return { window, until: now };
  });
}

const NAME_RE = /^[A-Za-z_:][A-Za-z0-9_:./-]{0,254}$/;
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/**
 * A metric query: `name` (required), `by` (label names, comma separated),
 * `since` (default 1h ago), `until` (default now), `step` (whole minutes;
 * default 1m, longer when the range would pass 1,440 steps), `q` (0 to 1,
 * default 0.99) and `service`.
 */
export function parseMetricQuery(
  params: Record<string, string | undefined>,
  now: number,
): FilterResult<MetricQuery> {
  return withParams(() => {
    checkParams(params, METRIC_QUERY_PARAMS);
    const name = params.name ?? "";
    if (!name) throw new ParamError("name: required (a metric name like server_request_total)");
    if (!NAME_RE.test(name)) throw new ParamError(`name: ${show(name)} is not a metric name`);
    const by = (params.by ?? "").split(",").map((l) => l.trim()).filter((l) => l !== "");
    for (const l of by) {
      if (!LABEL_RE.test(l)) throw new ParamError(`by: ${show(l)} is not a label name`);
    }
    if (new Set(by).size !== by.length) throw new ParamError("by: a label is named twice");
    if (by.length > 10) throw new ParamError("by: at most 10 labels");
    const until = timeParam(params.until, "until", now) ?? now;
    const since = timeParam(params.since, "since", now) ?? until - 3_600_000;
    if (since >= until) throw new ParamError("since: not before until");
    if (until - since > MAX_RANGE) throw new ParamError("since: the range is longer than 400d");
    let step: number;
    if (params.step === undefined || params.step === "") {
      step = Math.max(1, Math.ceil((until - since) / 1440 / 60_000)) * 60_000;
    } else {
      step = duration(params.step, "step", 60_000, MAX_RANGE);
      if (step % 60_000) {
        throw new ParamError(`step: ${show(params.step)} is not a whole number of minutes`);
      }
    }
    if ((until - since) / step > MAX_STEPS) {
      throw new ParamError(`step: ${show(params.step ?? "")} makes more than ${MAX_STEPS} steps`);
    }
    let q = 0.99;
    if (params.q !== undefined && params.q !== "") {
      q = Number(params.q);
      if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(params.q.trim()) || !(q >= 0 && q <= 1)) {
        throw new ParamError(`q: ${show(params.q)} is not a number from 0 to 1`);
      }
    }
    const service = params.service === undefined || params.service === ""
      ? undefined
      : params.service;
    if (service !== undefined && service.length > 256) {
      throw new ParamError("service: over 256 characters");
    }
    return { name, by, since, until, step, q, service };
  });
}
