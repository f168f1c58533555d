/**
 * Received platform series on `/metrics` (`otlp_receiver.expose_metrics`):
 * each as received (names and labels, plus `service`: the sender's
 * `service.name`) with its current state: a counter's cumulative value, a
 * histogram's buckets, a gauge's last value. They join the agent's own
 * exposition: a family the agent also exports (its probes write
 * `server_request_total` too) gets the received lines in its own group, as
 * the text format requires one group per name.
 *
 * Names follow the agent's own exposition: characters Prometheus does not
 * allow become `_`, and a counter gets the `_total` suffix it lacks. A
 * received label named `service` is kept as `exported_service`, as
 * Prometheus renames a scraped label that clashes with a target label.
 *
 * @module
 */

import type { Series } from "./series.ts";
import {
  escapeHelp,
  escapeValue,
  num,
  sanitizeLabel,
  sanitizeName,
} from "../metrics/prometheus.ts";

type FamilyType = "counter" | "gauge" | "histogram";

/** One family's lines, without its `# HELP`/`# TYPE` header. */
interface Family {
  type: FamilyType;
  help: string;
  lines: string[];
}

/** The exposition name of a series' family. */
export function familyName(s: Pick<Series, "name" | "kind">): string {
  const name = sanitizeName(s.name);
  return s.kind === "counter" && !name.endsWith("_total") ? name + "_total" : name;
}

function labelText(s: Series, le?: string): string {
  const parts = [`service="${escapeValue(s.service)}"`];
  const seen = new Set(["service", "le"]);
  for (const [k, v] of Object.entries(s.labels)) {
    let name = sanitizeLabel(k);
    if (name === "service" || name === "le") name = `exported_${name}`;
    if (seen.has(name)) continue; // two labels that sanitize alike: the first is kept
    seen.add(name);
    parts.push(`${name}="${escapeValue(v)}"`);
  }
  if (le !== undefined) parts.push(`le="${le}"`);
  return `{${parts.join(",")}}`;
}

/** The received series as families, by exposition name. */
export function receivedFamilies(series: Iterable<Series>): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const s of series) {
    if (!s.seen) continue;
    const name = familyName(s);
    let f = families.get(name);
    if (!f) families.set(name, f = { type: s.kind, help: s.description || s.name, lines: [] });
    if (f.type !== s.kind) continue; // the same name as two kinds: the first one seen stays
    if (s.kind !== "histogram") {
      f.lines.push(`${name}${labelText(s)} ${num(s.total)}`);
      continue;
    }
    const counts = s.totalCounts ?? [];
    let cumulative = 0;
    s.bounds!.forEach((bound, i) => {
      cumulative += counts[i] ?? 0;
      f.lines.push(`${name}_bucket${labelText(s, num(bound))} ${cumulative}`);
    });
    f.lines.push(`${name}_bucket${labelText(s, "+Inf")} ${num(s.total)}`);
    f.lines.push(`${name}_sum${labelText(s)} ${num(s.totalSum)}`);
    f.lines.push(`${name}_count${labelText(s)} ${num(s.total)}`);
  }
  return families;
}

/**
 * `own` (an exposition in text format 0.0.4, as the agent's scrape
 * renders it) with the received families joined in: lines of a family
 * `own` already has go into its group when the types agree (else a comment
 * says they were left out); other families follow at the end.
 */
export function mergeExposition(own: string, received: Map<string, Family>): string {
  if (!received.size) return own;
  const lines = own.split("\n");
  if (lines.at(-1) === "") lines.pop();
  // Where each family of `own` ends (the index after its last line), and its type.
  const ends = new Map<string, number>();
  const types = new Map<string, string>();
  let current: string | undefined;
  lines.forEach((line, i) => {
    const m = /^# (HELP|TYPE) (\S+)(?: (\S+))?/.exec(line);
    if (m) {
      current = m[2];
      if (m[1] === "TYPE") types.set(current, m[3] ?? "untyped");
    }
    if (current !== undefined) ends.set(current, i + 1);
  });
  const inserts = new Map<number, string[]>();
  const tail: string[] = [];
  for (const [name, f] of received) {
    const end = ends.get(name);
    if (end === undefined) {
      tail.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`, ...f.lines);
      continue;
    }
    const add = types.get(name) === f.type
      ? f.lines
      : [`# ${name} received from the platform left out: a ${f.type}, not a ${types.get(name)}`];
    const at = inserts.get(end) ?? [];
    at.push(...add);
    inserts.set(end, at);
  }
  const out: string[] = [];
  for (let i = 0; i <= lines.length; i++) {
    const add = inserts.get(i);
    if (add) out.push(...add);
    if (i < lines.length) out.push(lines[i]);
  }
  out.push(...tail);
  return out.join("\n") + "\n";
}
