/**
 * The alert lifecycle, as Alertmanager's: a condition that starts to hold
 * makes an instance (rule + label set) `pending`; once it has held for the
 * rule's `for` it is `firing` and one `firing` notification goes out; while
 * it fires, one `repeat` per `repeat_interval`; when it stops holding, one
 * `resolved` (only if a `firing` went out) and the instance is gone. A
 * pending instance that clears sends nothing. Silenced instances keep their
 * state but send nothing; a firing one whose silence ends sends its
 * `firing` then. Pure: the caller brings the clock and keeps the state.
 *
 * @module
 */

import type { AlertRule, Severity } from "../config/alerts.ts";
import type { Sample } from "./conditions.ts";

/** An instance that is pending or firing. */
export interface AlertInstance {
  /** The rule's name and the condition's labels, as one string. */
  key: string;
  rule: string;
  severity: Severity;
  /** Every label: `rule`, `severity`, the condition's and the rule's own. */
  labels: Record<string, string>;
  state: "pending" | "firing";
  /** When the condition started to hold (epoch ms). */
  active_since: number;
  firing_since?: number;
  /** When the last `firing` or `repeat` was sent (epoch ms). */
  last_sent?: number;
  /** Whether a `firing` went out (so the `resolved` must too). */
  notified: boolean;
  value: number;
  text: string;
  details?: string;
}

/** What one step asks to send. */
export interface AlertEvent {
  type: "firing" | "resolved" | "repeat";
  at: number;
  instance: AlertInstance;
}

/** What a step changed, for the caller to persist. */
export interface StepResult {
  events: AlertEvent[];
  /** Instances created, or whose state, notification or last send changed. */
  changed: AlertInstance[];
  /** Keys of instances that ended. */
  removed: string[];
  /** Instances that started or stopped firing (silenced or not), for the history. */
  transitions: AlertEvent[];
}

/** An alert's own labels for a table cell: `probe=api,team=x` (not `rule`, `severity`), or `-`. */
export function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels).filter(([k]) => k !== "rule" && k !== "severity")
    .map(([k, v]) => `${k}=${v}`).join(",") || "-";
}

/** The key of an instance: rule name and sorted condition labels. */
export function instanceKey(rule: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`);
  return [rule, ...parts].join("\u001f");
}

/** Every instance, by key; see the module doc. */
export class AlertBook {
  readonly #byKey = new Map<string, AlertInstance>();

  /** Take the instances kept in the store (at start). */
  load(instances: readonly AlertInstance[]): void {
    for (const i of instances) this.#byKey.set(i.key, i);
  }

  /** Every pending and firing instance. */
  list(): AlertInstance[] {
    return [...this.#byKey.values()];
  }

  /**
   * Apply one evaluation of `rule`.
   *
   * @param silenced whether an instance's labels are silenced now.
   */
  step(
    rule: AlertRule,
    samples: readonly Sample[],
    now: number,
    silenced: (labels: Record<string, string>) => boolean,
  ): StepResult {
    const out: StepResult = { events: [], changed: [], removed: [], transitions: [] };
    const seen = new Set<string>();
    for (const s of samples) {
      if (s.unknown) {
        seen.add(instanceKey(rule.name, s.labels));
        continue;
      }
      if (!s.active) continue;
      const key = instanceKey(rule.name, s.labels);
      seen.add(key);
      let i = this.#byKey.get(key);
      const before = i ? `${i.state}|${i.notified}|${i.last_sent}` : "";
      if (!i) {
        i = {
          key,
          rule: rule.name,
          severity: rule.severity,
          labels: { ...rule.labels, ...s.labels, rule: rule.name, severity: rule.severity },
          state: "pending",
          active_since: now,
          notified: false,
          value: s.value,
          text: s.text,
          details: s.details,
        };
        this.#byKey.set(key, i);
      }
      i.value = s.value;
      i.text = s.text;
      i.details = s.details;
      if (i.state === "pending" && now - i.active_since >= rule.for) {
        i.state = "firing";
        i.firing_since = now;
        out.transitions.push({ type: "firing", at: now, instance: { ...i } });
      }
      if (i.state === "firing" && !silenced(i.labels)) {
        if (!i.notified) {
          i.notified = true;
          i.last_sent = now;
          out.events.push({ type: "firing", at: now, instance: { ...i } });
        } else if (now - (i.last_sent ?? 0) >= rule.repeat_interval) {
          i.last_sent = now;
          out.events.push({ type: "repeat", at: now, instance: { ...i } });
        }
      }
      // Values change every evaluation; only what the lifecycle needs after a restart is saved.
      if (`${i.state}|${i.notified}|${i.last_sent}` !== before) out.changed.push(i);
    }
    for (const [key, i] of [...this.#byKey]) {
      if (i.rule !== rule.name || seen.has(key)) continue;
      this.#end(i, now, out);
    }
    return out;
  }

  /** End every instance of rules no longer configured (a `resolved` for those that fired). */
  retain(rules: ReadonlySet<string>, now: number): StepResult {
    const out: StepResult = { events: [], changed: [], removed: [], transitions: [] };
    for (const i of [...this.#byKey.values()]) {
      if (rules.has(i.rule)) continue;
      this.#end(i, now, out);
    }
    return out;
  }

  #end(i: AlertInstance, now: number, out: StepResult): void {
    this.#byKey.delete(i.key);
    out.removed.push(i.key);
    const event: AlertEvent = { type: "resolved", at: now, instance: { ...i } };
    if (i.state === "firing") out.transitions.push(event);
    if (i.notified) out.events.push(event);
  }
}
