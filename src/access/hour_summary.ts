/**
 * One hour of one live access log, summarised within a fixed size: top-N
 * lists (paths, 404 paths, clients, user-agent families, referers; see
 * {@linkcode TopCounter} for the error bound) and unique visitors as GoAccess
 * counts them (day + client + user agent), exact up to {@linkcode EXACT_VISITORS}
 * per day and a HyperLogLog past that (4,096 registers: about 1.6% standard
 * error). Summaries are saved as JSON in `access_hours` and merged over a window.
 *
 * @module
 */

import type { TopEntry } from "./report_schema.ts";
import type { AccessLine } from "./log_format.ts";
import { agentFamily, suspicion } from "./classify.ts";
import { notFoundStorms } from "./aggregate.ts";
import { hash53 } from "./hash53.ts";
import type { SuspiciousGroup } from "./report_schema.ts";
import { own, TopCounter } from "./top.ts";

/** Examples kept per kind of suspicious request per hour. */
const EXAMPLES = 3;

/** Suspicious requests of one kind (a reason of `suspicion`). */
interface Flagged {
  requests: number;
  clients: Distinct;
  examples: SuspiciousGroup["examples"];
}

/** The lists kept per hour. */
export const TOP_LISTS = ["paths", "not_found", "clients", "user_agents", "referers"] as const;
/** One of {@linkcode TOP_LISTS}. */
export type TopList = (typeof TOP_LISTS)[number];

/** Keys kept per list per hour (the list is exact while it has fewer than twice this). */
export const HOUR_TOP_CAPACITY = 200;
/** Visitors counted exactly per day before the count becomes an estimate. */
export const EXACT_VISITORS = 1024;
/** HyperLogLog precision: 2^12 registers. */
const P = 12;
const M = 1 << P;

/** Distinct 53-bit hashes: a set while small, a HyperLogLog past {@linkcode EXACT_VISITORS}. */
export class Distinct {
  #set?: Set<number> = new Set();
  #registers?: Uint8Array;

  /** True while the count is exact. */
  get exact(): boolean {
    return this.#set !== undefined;
  }

  /** Count a hash (from `hash53`). */
  add(hash: number): void {
    if (this.#set) {
      this.#set.add(hash);
      if (this.#set.size > EXACT_VISITORS) this.#toSketch();
      return;
    }
    const index = hash % M;
    const rest = Math.floor(hash / M); // 41 bits
    const rank = rest === 0 ? 42 : 41 - Math.floor(Math.log2(rest));
    if (rank > this.#registers![index]) this.#registers![index] = rank;
  }

  #toSketch(): void {
    const set = this.#set!;
    this.#set = undefined;
    this.#registers = new Uint8Array(M);
    for (const h of set) this.add(h);
  }

  /** The count: exact, or the HyperLogLog estimate. */
  count(): number {
    if (this.#set) return this.#set.size;
    const r = this.#registers!;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < M; i++) {
      sum += 2 ** -r[i];
      if (r[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / M);
    const e = (alpha * M * M) / sum;
    return Math.round(e <= 2.5 * M && zeros > 0 ? M * Math.log(M / zeros) : e);
  }

  /** Add another's hashes. */
  merge(other: Distinct): void {
    if (other.#set) {
      for (const h of other.#set) this.add(h);
      return;
    }
    if (this.#set) this.#toSketch();
    const mine = this.#registers!;
    const theirs = other.#registers!;
    for (let i = 0; i < M; i++) if (theirs[i] > mine[i]) mine[i] = theirs[i];
  }

  /** As JSON: the hashes, or the registers in base64. */
  toJSON(): { set: number[] } | { hll: string } {
    if (this.#set) return { set: [...this.#set] };
    let text = "";
    for (const b of this.#registers!) text += String.fromCharCode(b);
    return { hll: btoa(text) };
  }

  /** From {@linkcode Distinct.toJSON}'s form; an empty one for anything else. */
  static from(value: unknown): Distinct {
    const d = new Distinct();
    const v = value as { set?: unknown; hll?: unknown } | undefined;
    if (Array.isArray(v?.set)) {
      for (const h of v.set) if (Number.isSafeInteger(h)) d.add(h);
    } else if (typeof v?.hll === "string") {
      const text = atob(v.hll);
      if (text.length === M) {
        d.#set = undefined;
        d.#registers = Uint8Array.from(text, (c) => c.charCodeAt(0));
      }
    }
    return d;
  }
}

/** One hour's summary. */
export class HourSummary {
  readonly top: Record<TopList, TopCounter>;
  /** day (`2026-11-26`) -> visitors that day. */
  readonly visitors = new Map<string, Distinct>();
  /** Requests answered 404, per client (for 404 storms). */
  readonly clients404: TopCounter;
  /** Suspicious requests by reason. */
  readonly suspicious = new Map<string, Flagged>();

  constructor(capacity = HOUR_TOP_CAPACITY) {
    this.top = {
      paths: new TopCounter(capacity),
      not_found: new TopCounter(capacity),
      clients: new TopCounter(capacity),
      user_agents: new TopCounter(capacity),
      referers: new TopCounter(capacity),
    };
    this.clients404 = new TopCounter(capacity);
  }

  /** Count one request (its client as configured), as the report counts it. */
  add(l: AccessLine, client: string): void {
    // GoAccess leaves requests answered 4xx out of its visitors.
    if (l.status < 400 || l.status >= 500) {
      this.visitor(l.day, hash53(l.day, client, l.userAgent));
    }
    this.top.paths.add(l.path, l.bytes);
    if (l.status === 404) {
      this.top.not_found.add(l.path, l.bytes);
      this.clients404.add(client, 0);
    }
    this.top.clients.add(client, l.bytes);
    const agent = agentFamily(l.userAgent);
    this.top.user_agents.add(agent, l.bytes);
    if (l.referer !== "-" && l.referer !== "") this.top.referers.add(l.referer, l.bytes);
    const why = suspicion(l.path, l.query, agent);
    if (why) {
      const f = this.#flagged(why);
      f.requests++;
      f.clients.add(hash53(client));
      if (f.examples.length < EXAMPLES) {
        f.examples.push({
          time: Number.isFinite(l.time) ? new Date(l.time).toISOString() : "",
          client: own(client),
          request: own(`${l.method} ${l.query ? `${l.path}?${l.query}` : l.path}`.slice(0, 300)),
          status: l.status,
        });
      }
    }
  }

  #flagged(reason: string): Flagged {
    let f = this.suspicious.get(reason);
    if (!f) this.suspicious.set(reason, f = { requests: 0, clients: new Distinct(), examples: [] });
    return f;
  }

  /**
   * The suspicious requests by reason, most first, with the 404 storms (see
   * {@linkcode notFoundStorms}).
   */
  flagged(): SuspiciousGroup[] {
    const out: SuspiciousGroup[] = [...this.suspicious].map(([reason, f]) => ({
      reason,
      requests: f.requests,
      clients: f.clients.count(),
      examples: f.examples,
    }));
    const storms = notFoundStorms(this.clients404, this.top.clients, HOUR_TOP_CAPACITY, EXAMPLES);
    if (storms) out.push(storms);
    return out.sort((a, b) => b.requests - a.requests);
  }

  /** Count a visitor of `day` (a `hash53` of day, client and user agent). */
  visitor(day: string, hash: number): void {
    let d = this.visitors.get(day);
    if (!d) this.visitors.set(day, d = new Distinct());
    d.add(hash);
  }

  /** Add another summary (another hour of the window, or a saved copy). */
  merge(other: HourSummary): void {
    for (const k of TOP_LISTS) this.top[k].merge(other.top[k].entries(), other.top[k].error);
    this.clients404.merge(other.clients404.entries(), other.clients404.error);
    for (const [reason, f] of other.suspicious) {
      const mine = this.#flagged(reason);
      mine.requests += f.requests;
      mine.clients.merge(f.clients);
      for (const e of f.examples) if (mine.examples.length < EXAMPLES) mine.examples.push(e);
    }
    for (const [day, d] of other.visitors) {
      const mine = this.visitors.get(day);
      if (mine) mine.merge(d);
      else this.visitors.set(day, Distinct.from(d.toJSON()));
    }
  }

  /** Unique visitors: the sum over days, as GoAccess counts them; `exact` false once estimated. */
  uniqueVisitors(): { count: number; exact: boolean } {
    let count = 0;
    let exact = true;
    for (const d of this.visitors.values()) {
      count += d.count();
      exact &&= d.exact;
    }
    return { count, exact };
  }

  /** The `n` largest of each list. */
  tops(n: number): Record<TopList, TopEntry[]> {
    return Object.fromEntries(TOP_LISTS.map((k) => [k, this.top[k].top(n)])) as Record<
      TopList,
      TopEntry[]
    >;
  }

  /** As saved in `access_hours.summary`. */
  toJSON(): string {
    return JSON.stringify({
      v: 1,
      top: Object.fromEntries(
        TOP_LISTS.map((k) => [k, { error: this.top[k].error, keys: [...this.top[k].entries()] }]),
      ),
      visitors: Object.fromEntries([...this.visitors].map(([day, d]) => [day, d.toJSON()])),
      clients404: { error: this.clients404.error, keys: [...this.clients404.entries()] },
      suspicious: Object.fromEntries(
        [...this.suspicious].map((
          [reason, f],
        ) => [reason, { requests: f.requests, clients: f.clients.toJSON(), examples: f.examples }]),
      ),
    });
  }

  /** From {@linkcode HourSummary.toJSON}'s text; empty when it is not one. */
  static parse(text: string): HourSummary {
    const s = new HourSummary();
    type Keys = { error?: number; keys?: [string, { n: number; bytes: number }][] };
    let v: {
      top?: Record<string, Keys>;
      visitors?: Record<string, unknown>;
      clients404?: Keys;
      suspicious?: Record<string, { requests?: number; clients?: unknown; examples?: unknown }>;
    };
    try {
      v = JSON.parse(text);
    } catch {
      return s;
    }
    for (const k of TOP_LISTS) {
      const list = v.top?.[k];
      if (Array.isArray(list?.keys)) s.top[k].merge(list.keys, Number(list.error) || 0);
    }
    for (const [day, d] of Object.entries(v.visitors ?? {})) s.visitors.set(day, Distinct.from(d));
    if (Array.isArray(v.clients404?.keys)) {
      s.clients404.merge(v.clients404.keys, Number(v.clients404.error) || 0);
    }
    for (const [reason, f] of Object.entries(v.suspicious ?? {})) {
      s.suspicious.set(reason, {
        requests: Number(f.requests) || 0,
        clients: Distinct.from(f.clients),
        examples: Array.isArray(f.examples) ? f.examples.slice(0, EXAMPLES) : [],
      });
    }
    return s;
  }
}
