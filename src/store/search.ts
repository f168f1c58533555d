/**
 * What `q=` searches in a run: its sid, question, answer and status message, its
 * nodes' log lines, and the long strings that are offloaded to blobs (taken
 * before they are replaced by links). Kept per run in `run_search`, at most
 * {@linkcode SEARCH_TEXT_MAX} characters, under a trigram index.
 *
 * @module
 */

import { isObject } from "../wire_shape.ts";

/** The most characters of text kept for one run's search. */
export const SEARCH_TEXT_MAX = 64 * 1024;

/** Strings at least this long anywhere in a record are searchable (the offloaded ones among them). */
const LONG_STRING = 512;

/**
 * The searchable text of `record` (before its long strings are offloaded).
 *
 * @example
 * ```ts
 * import { searchText } from "./search.ts";
 * searchText({ sid: "s1", question: "天气", trace: [{ logs: ['{"level":"ERROR","message":"Timeout"}'] }] });
 * // "s1\n天气\nERROR Timeout"
 * ```
 */
export function searchText(record: Record<string, unknown>): string {
  const parts: string[] = [];
  let size = 0;
  const add = (s: unknown) => {
    if (typeof s !== "string" || !s || size >= SEARCH_TEXT_MAX) return;
    const piece = s.slice(0, SEARCH_TEXT_MAX - size);
    parts.push(piece);
    size += piece.length + 1;
  };
  add(record.sid);
  add(record.question);
  add(record.answer);
  if (isObject(record.status)) add(record.status.message);
  const trace = Array.isArray(record.trace) ? record.trace : [];
  for (const node of trace) {
    if (!isObject(node) || !Array.isArray(node.logs)) continue;
    for (const line of node.logs) add(logMessage(line));
  }
  const long = (v: unknown, depth: number): void => {
    if (size >= SEARCH_TEXT_MAX || depth > 64) return;
    if (typeof v === "string") {
      if (v.length >= LONG_STRING) add(v);
    } else if (Array.isArray(v)) {
      for (const x of v) long(x, depth + 1);
    } else if (isObject(v)) {
      for (const k in v) if (k !== "logs") long(v[k], depth + 1);
    }
  };
  for (const k in record) if (k !== "question" && k !== "answer") long(record[k], 1);
  return parts.join("\n");
}

/** A node log line's message (the platform writes each as JSON), else the line itself. */
export function logMessage(line: unknown): string | undefined {
  if (typeof line !== "string") return undefined;
  const parsed = parseLog(line);
  return parsed ? `${parsed.level} ${parsed.message}` : line;
}

/** A node log line as the platform writes it: `{"level","message","time"}` in JSON. */
export function parseLog(line: string): { level: string; message: string } | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line);
    if (isObject(v) && typeof v.level === "string") {
      return {
        level: v.level,
        message: typeof v.message === "string" ? v.message : String(v.message ?? ""),
      };
    }
  } catch {
    // not JSON: a plain line
  }
  return undefined;
}

/** True when a node of `record` logged at ERROR. */
export function hasErrorLog(record: Record<string, unknown>): boolean {
  const trace = Array.isArray(record.trace) ? record.trace : [];
  for (const node of trace) {
    if (!isObject(node) || !Array.isArray(node.logs)) continue;
    for (const line of node.logs) {
      if (typeof line === "string" && parseLog(line)?.level.toUpperCase() === "ERROR") return true;
    }
  }
  return false;
}
