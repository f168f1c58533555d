/**
 * The last minutes of the platform's request counts and latency, per
 * service and `func`, kept in memory as the rollups take points: what
 * alert rules over `server_request_total` and
 * `server_request_time_microseconds` read every evaluation, so they never
 * re-read every series' minutes from the database. It covers windows that
 * start after it began (the agent's start); older windows are read from the
 * database. It keeps only as many minutes as the longest rule asks.
 *
 * @module
 */

import { type Buckets, mergeBuckets, sameBounds } from "./quantile.ts";
import { latencyStats, round, type ServicesResult, type ServiceStats } from "./read.ts";

interface Minute {
  minute: number;
  requests: number;
  errors: number;
  /** Latency histograms added this minute, one per bound set. */
  hists: { bounds: readonly number[]; counts: Float64Array }[];
}

/** See the module doc. */
export class RecentServices {
  /** service -> func -> minutes, oldest first. */
  readonly #services = new Map<string, Map<string, Minute[]>>();
  readonly #lastSeen = new Map<string, number>();
  #keep = 0;
  /** The first minute wholly seen. */
  #since: number;

  constructor(now: number) {
    this.#since = Math.floor(now / 60_000) * 60_000 + 60_000;
  }

  /** Keep enough minutes for windows of `ms` (0: keep nothing). */
  keep(ms: number, now: number): void {
    const minutes = ms > 0 ? Math.ceil(ms / 60_000) + 2 : 0;
    if (minutes > this.#keep) {
      // More history is needed than was kept: it is complete only from now on.
      this.#since = Math.max(this.#since, Math.floor(now / 60_000) * 60_000 + 60_000);
    }
    this.#keep = minutes;
    if (!minutes) this.#services.clear();
  }

  /** Whether windows of `window` ms ending `now` are wholly here. */
  covers(window: number, now: number): boolean {
    return this.#keep > 0 && window <= (this.#keep - 2) * 60_000 &&
      Math.floor((now - window) / 60_000) * 60_000 >= this.#since;
  }

  /** A service was heard from. */
  heard(service: string, at: number): void {
    if ((this.#lastSeen.get(service) ?? 0) < at) this.#lastSeen.set(service, at);
  }

  #minute(service: string, func: string, minute: number): Minute | undefined {
    if (!this.#keep) return undefined;
    let funcs = this.#services.get(service);
    if (!funcs) this.#services.set(service, funcs = new Map());
    let list = funcs.get(func);
    if (!list) funcs.set(func, list = []);
    const last = list.at(-1);
    if (last?.minute === minute) return last;
    let m = list.find((x) => x.minute === minute);
    if (!m) {
      m = { minute, requests: 0, errors: 0, hists: [] };
      list.push(m);
      list.sort((a, b) => a.minute - b.minute);
      const oldest = minute - this.#keep * 60_000;
      while (list.length && list[0].minute < oldest) list.shift();
    }
    return m;
  }

  /** Requests added to a minute (`ret` other than "" and "0" is an error). */
  addRequests(service: string, func: string, ret: string, minute: number, n: number): void {
    const m = this.#minute(service, func, minute);
    if (!m) return;
    m.requests += n;
    if (ret !== "" && ret !== "0") m.errors += n;
  }

  /** Latency observations added to a minute, per bucket. */
  addLatency(
    service: string,
    func: string,
    minute: number,
    bounds: readonly number[],
    counts: readonly number[],
  ): void {
    const m = this.#minute(service, func, minute);
    if (!m) return;
    let h = m.hists.find((x) => sameBounds(x.bounds, bounds));
    if (!h) m.hists.push(h = { bounds, counts: new Float64Array(bounds.length + 1) });
    for (let i = 0; i < counts.length && i < h.counts.length; i++) h.counts[i] += counts[i];
  }

  /** The services summary over `window` ending `now`, as `readServices` answers it (no `rely_latency_ms`, no `concurrency`). */
  services(window: number, now: number): ServicesResult {
    const since = Math.floor((now - window) / 60_000) * 60_000;
    const span = Math.max(60_000, now - since);
    const services = [...this.#lastSeen.keys()].sort((a, b) => a.localeCompare(b)).map(
      (service) => {
        const funcs: (ServiceStats & { func: string })[] = [];
        let requests = 0;
        let errors = 0;
        const all: Buckets[] = [];
        for (const [func, minutes] of this.#services.get(service) ?? []) {
          let r = 0;
          let e = 0;
          const hs: Buckets[] = [];
          for (const m of minutes) {
            if (m.minute < since || m.minute > now) continue;
            r += m.requests;
            e += m.errors;
            hs.push(...m.hists);
          }
          requests += r;
          errors += e;
          all.push(...hs);
          if (func !== "") funcs.push({ func, ...stats(r, e, hs, span) });
        }
        funcs.sort((a, b) => a.func.localeCompare(b.func));
        return {
          service,
          last_seen: this.#lastSeen.get(service) ?? 0,
          ...stats(requests, errors, all, span),
          funcs,
        };
      },
    );
    return { window_seconds: Math.round(window / 1000), since, until: now, services };
  }
}

function stats(requests: number, errors: number, hists: Buckets[], span: number): ServiceStats {
  return {
    requests,
    requests_per_min: round(requests / (span / 60_000)),
    errors,
    error_ratio: requests > 0 ? round(errors / requests) : null,
    latency_ms: latencyStats(mergeBuckets(hists)),
    rely_latency_ms: null,
    concurrency: null,
  };
}
