/**
 * The alert engine (a component): every `alerts.evaluation_interval` it
 * evaluates each rule against what the agent keeps (see `conditions.ts`),
 * steps each alert's lifecycle (`lifecycle.ts`), queues the notifications
 * in the outbox (`outbox.ts`) and saves the state in the store
 * (`state.ts`). A rule that errs or passes `alerts.evaluation_timeout`
 * keeps its alerts as they were and is reported; it never holds the others
 * (or the probes, which run on their own timers).
 *
 * @module
 */

import type { Component } from "../component.ts";
import type { Config } from "../config/schema.ts";
import type { AlertRule, AlertsConfig, ChannelConfig } from "../config/alerts.ts";
import type { Logger } from "../log/logger.ts";
import type { ProbeBoard } from "../probe/board.ts";
import type { MetricsReader } from "../rollups/read.ts";
import type { Store } from "../store/store.ts";
import { errorMessage } from "../errors.ts";
import {
  type AlertInputs,
  type BackupAge,
  CycleReads,
  evaluate,
  type Sample,
} from "./conditions.ts";
import { AlertBook, type AlertEvent, type AlertInstance, type StepResult } from "./lifecycle.ts";
import { groupOf, type Notification, outAlert } from "./message.ts";
import { type ChannelStats, Outbox } from "./outbox.ts";
import { ALERTMANAGER_REFRESH, type Delivery } from "./channels.ts";
import { deliver } from "./deliver.ts";
import { matchesAll } from "./matchers.ts";
import {
  expireSilence,
  type HistoryEntry,
  insertSilence,
  loadInstances,
  loadSilences,
  readHistory,
  saveInstances,
  type Silence,
} from "./state.ts";

/** Options for {@linkcode AlertEngine}. */
export interface AlertEngineOptions {
  config: Config;
  board: ProbeBoard;
  metrics: MetricsReader;
  store: Store;
  /** Lines the agent's own log dropped so far. */
  logDropped: () => number | undefined;
  /** The backup jobs' last good backups (`backup_age`). */
  backups?: () => readonly BackupAge[];
  /** Where the outbox lives. */
  dir: string;
  logger: Logger;
  now?: () => number;
  /** How notifications are sent (default: over HTTP and SMTP, `deliver.ts`). */
  send?: (name: string, channel: ChannelConfig, n: Notification) => Promise<Delivery>;
}

/** An alert as the API shows it. */
export interface AlertView extends AlertInstance {
  silenced: boolean;
}

/** A rule's last evaluation. */
export interface RuleHealth {
  rule: string;
  ms: number;
  error?: string;
}

/** The engine's counters, for `/status` and `/metrics`. */
export interface AlertStats {
  rules: number;
  evaluations: number;
  last_evaluation?: { at: number; ms: number };
  /** Rules that failed or were cut off in the last cycle. */
  failing_rules: RuleHealth[];
  state_saved: boolean;
  channels: Record<string, ChannelStats>;
  firing: number;
  pending: number;
  silences: number;
}

/** The alert engine; see the module doc. */
export class AlertEngine implements Component {
  readonly name = "alerts";
  #config: AlertsConfig;
  #full: Config;
  readonly #o: AlertEngineOptions;
  readonly #now: () => number;
  readonly #book = new AlertBook();
  readonly #outbox: Outbox;
  readonly #log: Logger;
  #silences: Silence[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #cycle?: Promise<void>;
  #running = false;
  #evaluations = 0;
  #last?: { at: number; ms: number };
  #failing: RuleHealth[] = [];
  #unsaved: {
    changed: Map<string, AlertInstance>;
    removed: Set<string>;
    transitions: AlertEvent[];
  } = {
    changed: new Map(),
    removed: new Set(),
    transitions: [],
  };
  /** Log-drop counter samples, for `log_drops` windows. */
  #drops: { at: number; n: number }[] = [];
  /** When each firing alert was last pushed to each Alertmanager channel. */
  readonly #refreshed = new Map<string, number>();
  /** The rules of the last evaluation: a rule a reload removes is still known by them. */
  #lastRules = new Map<string, AlertRule>();

  constructor(options: AlertEngineOptions) {
    this.#o = options;
    this.#full = options.config;
    this.#config = options.config.alerts;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger.child({ component: "alerts" });
    this.#outbox = new Outbox({
      dir: options.dir,
      channels: this.#config.channels,
      limit: this.#config.outbox_limit,
      language: this.#config.language,
      externalUrl: this.#config.external_url,
      send: options.send ?? deliver,
      logger: this.#log,
      now: this.#now,
    });
  }

  /** Ask the rollups to keep in memory the minutes the rules over platform metrics read. */
  #keepRecent(): void {
    let longest = 0;
    for (const r of this.#config.rules) {
      const c = r.condition;
      if ((c.kind === "error_ratio" || c.kind === "latency") && c.source === "otlp") {
        longest = Math.max(longest, c.window);
      } else if (c.kind === "absent" && c.source === "otlp") longest = Math.max(longest, 60_000);
    }
    this.#o.metrics.keepRecent?.(Math.min(longest, MAX_RECENT));
  }

  /** Load the saved state and the outbox, then evaluate on schedule. */
  async start(): Promise<void> {
    this.#keepRecent();
    await this.#outbox.start();
    try {
      const db = this.#o.store.backend.db;
      this.#book.load(await loadInstances(db));
      this.#silences = await loadSilences(db, this.#now());
    } catch (err) {
      this.#log.warn("alert state not loaded (the store is not answering): alerts start afresh", {
        err: errorMessage(err),
      });
    }
    this.#running = true;
    this.#schedule(0);
  }

  /** Stop evaluating, save the state, let a delivery in flight end. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#cycle;
    await this.#save();
    await this.#outbox.stop();
  }

  /** Take new rules, channels and silences. */
  async reload(config: Config): Promise<void> {
    this.#full = config;
    this.#config = config.alerts;
    this.#keepRecent();
    await this.#outbox.reload({
      channels: config.alerts.channels,
      limit: config.alerts.outbox_limit,
      language: config.alerts.language,
      externalUrl: config.alerts.external_url,
    });
  }

  /** Evaluate every rule once, now. */
  evaluate(): Promise<void> {
    this.#cycle ??= this.#evaluate().finally(() => this.#cycle = undefined);
    return this.#cycle;
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(async () => {
      await this.evaluate();
      this.#schedule(this.#config.evaluation_interval);
    }, ms);
  }

  async #evaluate(): Promise<void> {
    const started = performance.now();
    const now = this.#now();
    const cfg = this.#config;
    this.#sampleDrops(now);
    await this.#refreshSilences(now);
    const reads = new CycleReads(this.#inputs(now));
    const failing: RuleHealth[] = [];
    // Rules run one after another, handing the thread back to the event loop
    // every few milliseconds: SQLite reads are synchronous, and a probe that
    // falls due during a cycle should wait for one slice, not for the cycle.
    const results: { rule: AlertRule; samples?: Sample[] }[] = [];
    let slice = performance.now();
    for (const rule of cfg.rules) {
      if (performance.now() - slice > SLICE_MS) {
        await new Promise((r) => setTimeout(r, 0));
        slice = performance.now();
      }
      const t0 = performance.now();
      try {
        const samples = await withTimeout(evaluate(rule.condition, reads), cfg.evaluation_timeout);
        results.push({ rule, samples });
      } catch (err) {
        failing.push({
          rule: rule.name,
          ms: Math.round(performance.now() - t0),
          error: errorMessage(err),
        });
        results.push({ rule });
      }
    }
    const silenced = this.#silencer(now);
    const queue: { rule: AlertRule; events: AlertEvent[] }[] = [];
    const merge = (step: StepResult, rule?: AlertRule) => {
      for (const i of step.changed) {
        this.#unsaved.changed.set(i.key, i);
        this.#unsaved.removed.delete(i.key);
      }
      for (const k of step.removed) {
        this.#unsaved.changed.delete(k);
        this.#unsaved.removed.add(k);
        this.#refreshed.delete(k);
      }
      this.#unsaved.transitions.push(...step.transitions);
      if (rule && step.events.length) queue.push({ rule, events: step.events });
    };
    // Rules that may inhibit others step first, so an alert and its source firing in the same
    // evaluation are told apart (the inhibition reads the alerts as they are now).
    const mayInhibit = (rule: AlertRule) => {
      const known: Record<string, string> = {
        ...rule.labels,
        rule: rule.name,
        severity: rule.severity,
      };
      return cfg.inhibit_rules.some((r) =>
        matchesAll(r.source_matchers.filter((m) => m.name in known), known)
      );
    };
    const ordered = cfg.inhibit_rules.length
      ? [
        ...results.filter((x) => mayInhibit(x.rule)),
        ...results.filter((x) => !mayInhibit(x.rule)),
      ]
      : results;
    for (const { rule, samples } of ordered) {
      if (samples) merge(this.#book.step(rule, samples, now, silenced), rule);
    }
    const gone = this.#book.retain(new Set(cfg.rules.map((r) => r.name)), now);
    merge(gone);
    // A rule removed by a reload: its alerts' `resolved` goes where their `firing` went (the
    // channels still configured). Removed while the agent was down, the rule is unknown: quietly.
    const byRule = Map.groupBy(gone.events, (e) => e.instance.rule);
    const quiet: AlertEvent[] = [];
    for (const [name, events] of byRule) {
      const rule = this.#lastRules.get(name);
      if (!rule) quiet.push(...events);
      else {
        const channels = rule.channels.filter((c) => cfg.channels[c] !== undefined);
        queue.push({ rule: { ...rule, channels }, events });
      }
    }
    this.#lastRules = new Map(cfg.rules.map((r) => [r.name, r]));
    if (quiet.length) {
      this.#log.info("rules removed: their alerts resolved quietly", { count: quiet.length });
    }
    for (const { rule, events } of queue) await this.#enqueue(rule, events);
    await this.#refreshAlertmanager(now, silenced);
    await this.#save();
    if (failing.length) {
      const fresh = failing.filter((f) => !this.#failing.some((o) => o.rule === f.rule));
      for (const f of fresh) {
        this.#log.warn("alert rule not evaluated", { rule: f.rule, err: f.error });
      }
    }
    this.#failing = failing;
    this.#evaluations++;
    this.#last = { at: now, ms: Math.round((performance.now() - started) * 10) / 10 };
  }

  async #enqueue(rule: AlertRule, events: readonly AlertEvent[]): Promise<void> {
    const groups = new Map<string, { group: ReturnType<typeof groupOf>; events: AlertEvent[] }>();
    for (const e of events) {
      const group = groupOf(rule, e.instance.labels);
      const key = JSON.stringify(group);
      const g = groups.get(key) ?? groups.set(key, { group, events: [] }).get(key)!;
      g.events.push(e);
      if (e.type === "firing" || e.type === "resolved") {
        this.#log.info(`alert ${e.type}`, {
          rule: rule.name,
          labels: e.instance.labels,
          value: e.instance.text,
        });
      }
    }
    for (const { group, events: evs } of groups.values()) {
      const alerts = evs.map((e) =>
        outAlert(rule, e, this.#config.external_url, this.#config.language)
      );
      for (const channel of rule.channels) {
        await this.#outbox.enqueue(channel, group, alerts, rule.group_wait);
        if (this.#config.channels[channel]?.type === "alertmanager") {
          for (const e of evs) this.#refreshed.set(`${channel}\u0000${e.instance.key}`, e.at);
        }
      }
    }
  }

  /** Alertmanager forgets an alert that is not re-sent: push each firing one once a minute. */
  async #refreshAlertmanager(now: number, silenced: (l: Record<string, string>) => boolean) {
    const rules = new Map(this.#config.rules.map((r) => [r.name, r]));
    for (const i of this.#book.list()) {
      if (i.state !== "firing" || !i.notified || silenced(i.labels)) continue;
      const rule = rules.get(i.rule);
      if (!rule) continue;
      for (const channel of rule.channels) {
        if (this.#config.channels[channel]?.type !== "alertmanager") continue;
        const k = `${channel}\u0000${i.key}`;
        if (now - (this.#refreshed.get(k) ?? 0) < ALERTMANAGER_REFRESH) continue;
        this.#refreshed.set(k, now);
        const alert = outAlert(
          rule,
          { type: "repeat", at: now, instance: i },
          this.#config.external_url,
          this.#config.language,
        );
        await this.#outbox.enqueue(channel, groupOf(rule, i.labels), [alert], 0);
      }
    }
  }

  async #save(): Promise<void> {
    const u = this.#unsaved;
    if (!u.changed.size && !u.removed.size && !u.transitions.length) return;
    try {
      await saveInstances(
        this.#o.store.backend.db,
        [...u.changed.values()],
        [...u.removed],
        u.transitions,
        this.#now(),
      );
      this.#unsaved = { changed: new Map(), removed: new Set(), transitions: [] };
    } catch (err) {
      if (u.transitions.length > 10_000) u.transitions.splice(0, u.transitions.length - 10_000);
      this.#log.warn("alert state not saved; will retry", { err: errorMessage(err) });
    }
  }

  #inputs(now: number): AlertInputs {
    const store = this.#o.store;
    return {
      now,
      probes: () => this.#o.board.views(),
      services: (window) =>
        Promise.resolve(
          this.#o.metrics.recentServices?.(window, now) ??
            this.#o.metrics.services({ window, until: now }),
        ),
      db: () => store.backend.db,
      storeUsage: async () => ({ bytes: await store.size(), max: this.#full.store.max_size }),
      logDrops: (window) => {
        const latest = this.#drops.at(-1);
        if (!latest) return undefined;
        const then = this.#drops.find((d) => d.at >= now - window) ?? latest;
        return { then: then.n, now: latest.n };
      },
      externalUrl: this.#config.external_url,
      backups: this.#o.backups,
      serviceLogs: () => this.#full.service_logs.map((l) => l.name),
    };
  }

  #sampleDrops(now: number): void {
    const n = this.#o.logDropped();
    if (n === undefined) return;
    this.#drops.push({ at: now, n });
    const longest = Math.max(
      0,
      ...this.#config.rules.map((r) => r.condition.kind === "log_drops" ? r.condition.window : 0),
    );
    while (
      this.#drops.length > 1 && this.#drops[0].at < now - longest - this.#config.evaluation_interval
    ) {
      this.#drops.shift();
    }
  }

  async #refreshSilences(now: number): Promise<void> {
    try {
      this.#silences = await loadSilences(this.#o.store.backend.db, now);
    } catch {
      // The store is away: the silences known stay in force.
    }
  }

  /** Every silence in force or to come: the config's and the store's. */
  silences(now = this.#now()): Silence[] {
    const fromConfig: Silence[] = this.#config.silences.map((s, i) => ({
      id: `config-${i}`,
      ...s,
      created_at: 0,
      origin: "config",
    }));
    return [...fromConfig, ...this.#silences].filter((s) => s.ends_at > now);
  }

  /**
   * Whether a label set is silenced at `now`: by a silence in force, or
   * inhibited by a firing alert (`alerts.inhibit_rules`); gathered once.
   */
  #silencer(now: number): (labels: Record<string, string>) => boolean {
    const active = this.silences(now).filter((s) => s.starts_at <= now);
    const inhibited = this.#inhibitor();
    return (labels) => active.some((s) => matchesAll(s.matchers, labels)) || inhibited(labels);
  }

  /**
   * Whether a label set is inhibited by an alert firing at the time of the
   * call (as Alertmanager: an alert that is also a target inhibits nothing).
   */
  #inhibitor(): (labels: Record<string, string>) => boolean {
    const rules = this.#config.inhibit_rules;
    if (!rules.length) return () => false;
    return (labels) => {
      const targetOf = rules.filter((r) => matchesAll(r.target_matchers, labels));
      if (!targetOf.length) return false;
      return this.#book.list().some((a) =>
        a.state === "firing" &&
        targetOf.some((r) =>
          matchesAll(r.source_matchers, a.labels) &&
          !matchesAll(r.target_matchers, a.labels) &&
          r.equal.every((l) => (a.labels[l] ?? "") === (labels[l] ?? ""))
        )
      );
    };
  }

  /** Pending and firing alerts. */
  alerts(): AlertView[] {
    const silenced = this.#silencer(this.#now());
    return this.#book.list().map((a) => ({ ...a, silenced: silenced(a.labels) }))
      .sort((
        a,
        b,
      ) => (a.state === b.state ? a.active_since - b.active_since : a.state === "firing" ? -1 : 1));
  }

  /** Alerts that fired and resolved since `since`. */
  history(since: number, limit: number): Promise<HistoryEntry[]> {
    return readHistory(this.#o.store.backend.db, since, limit);
  }

  /** Add a silence (kept in the store); it applies from the next evaluation. */
  async addSilence(s: Silence): Promise<void> {
    await insertSilence(this.#o.store.backend.db, s);
    this.#silences.push(s);
  }

  /** End a silence; false when none by that id is in force. */
  async endSilence(id: string): Promise<boolean> {
    const ok = await expireSilence(this.#o.store.backend.db, id, this.#now());
    if (ok) this.#silences = this.#silences.filter((s) => s.id !== id);
    return ok;
  }

  /** The counters. */
  stats(): AlertStats {
    const list = this.#book.list();
    return {
      rules: this.#config.rules.length,
      evaluations: this.#evaluations,
      last_evaluation: this.#last,
      failing_rules: this.#failing,
      state_saved: !this.#unsaved.changed.size && !this.#unsaved.removed.size &&
        !this.#unsaved.transitions.length,
      channels: this.#outbox.stats(),
      firing: list.filter((a) => a.state === "firing").length,
      pending: list.filter((a) => a.state === "pending").length,
      silences: this.silences().length,
    };
  }
}

/** Longest window the rollups keep in memory for rules (longer ones read the database). */
const MAX_RECENT = 6 * 3_600_000;

/** Longest stretch of rule evaluation before the cycle yields to timers and I/O. */
const SLICE_MS = 4;

/** Reject with a timeout error after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`cut off after ${ms}ms (alerts.evaluation_timeout)`)),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
