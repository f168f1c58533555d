/**
 * `astron-watch traces [list|show SID|stats] [filters]`: query the trace
 * store from the shell, opening the store named by the config directly (the
 * agent need not run). The filters are the API's, as flags.
 *
 * @module
 */

import type { Store } from "../store/store.ts";
import { LIST_PARAMS, parseListQuery, parseUsageQuery } from "../store/filters.ts";
import { NODE_PAGE, type RunDetail, type RunSummary, type UsageGroup } from "../store/query.ts";
import { type NodeLog, SID_PATTERN } from "../workflow/record.ts";
import { parseLog } from "../store/search.ts";
import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";
import { textTable } from "../text_table.ts";
import { openStoreForReading } from "./open_store.ts";

const USAGE = `usage: astron-watch traces [list] [filters] [--json]
       astron-watch traces show SID [--blobs inline] [--json]
       astron-watch traces stats [--by app_id|node_type] [--since T] [--until T] [--json]
       astron-watch traces dead-letters [list|replay] [--json]

Queries the trace store named by store.url in the config, without the agent.

list filters:
  --app-id ID  --uid ID  --chat-id ID
  --status error|ok
  --since T  --until T   epoch ms, 2026-01-31, 2026-01-31T08:00:00Z, or "24h" (ago)
  -q, --q TEXT           text in the sid or the question
  --limit N              1 to 500 (default 50)
  --cursor C             the next page, as printed after a full page

show:
  --node-offset N        start the node page at N (in execution order)
  --node-limit N         nodes on the page, 1 to 2000 (default 500)

dead-letters:
  records the database refused while the spool was replayed (kept in
  spool/dead-letters.ndjson beside the blob directory); "replay" writes them
  again once the cause is fixed and keeps those still refused.

options:
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present,
                      else the built-in defaults)
  --json              print JSON, as the HTTP API answers
  -h, --help          show this help

Exit codes: 0 ok, 1 no such run or the store cannot be read, 2 usage or config error.
`;

const FLAGS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  "app-id": { type: "string" },
  uid: { type: "string" },
  "chat-id": { type: "string" },
  status: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  q: { type: "string", short: "q" },
  limit: { type: "string" },
  cursor: { type: "string" },
  by: { type: "string" },
  blobs: { type: "string" },
  "node-offset": { type: "string" },
  "node-limit": { type: "string" },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

function pick(values: Values, names: (keyof typeof FLAGS)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = values[n];
    if (typeof v === "string") out[n.replace("-", "_")] = v;
  }
  return out;
}

function refuse(values: Values, allowed: (keyof typeof FLAGS)[], action: string): void {
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || ["config", "json", "help"].includes(k)) continue;
    if (!allowed.includes(k as keyof typeof FLAGS)) {
      throw new UsageError(`--${k} does not apply to "traces ${action}"`);
    }
  }
}

const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

function listText(runs: RunSummary[], next: string | null): string {
  if (!runs.length) return "no runs\n";
  const rows = [["START (UTC)", "SID", "APP", "STATUS", "MS", "TOKENS", "QUESTION"]];
  for (const r of runs) {
    rows.push([
      time(r.start_time),
      r.sid,
      r.app_id,
      r.error ? `error ${r.status_code}` : "ok",
      String(r.duration),
      String(r.usage.total_tokens),
      r.question.replace(/\s+/g, " ").slice(0, 40),
    ]);
  }
  return textTable(rows[0], rows.slice(1)) + (next ? `next page: --cursor ${next}\n` : "");
}

function statsText(groups: UsageGroup[], by: string): string {
  if (!groups.length) return "no runs in the window\n";
  const rows = [[
    by.toUpperCase(),
    "COUNT",
    "ERRORS",
    "PROMPT",
    "COMPLETION",
    "TOTAL",
    "P50",
    "P90",
    "P99",
  ]];
  for (const g of groups) {
    rows.push([
      g.key || "-",
      String(g.count),
      String(g.errors),
      String(g.prompt_tokens),
      String(g.completion_tokens),
      String(g.total_tokens),
      `${g.latency_ms.p50}ms`,
      `${g.latency_ms.p90}ms`,
      `${g.latency_ms.p99}ms`,
    ]);
  }
  return textTable(rows[0], rows.slice(1));
}

/** An integer flag in `[min, max]`, or `fallback` when absent. */
function count(
  text: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!/^\d+$/.test(text) || v < min || v > max) {
    throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return v;
}

function listDeadLetters(json: boolean): (store: Store) => Promise<number> {
  return async (store) => {
    const letters = await store.deadLetters.list();
    if (json) {
      out(JSON.stringify({ file: store.deadLetters.path, records: letters }, null, 2) + "\n");
      return EXIT.ok;
    }
    if (!letters.length) {
      out(`no dead letters (${store.deadLetters.path})\n`);
      return EXIT.ok;
    }
    const rows = [["REFUSED (UTC)", "KIND", "ID", "ERROR"]];
    for (const l of letters) {
      rows.push([
        time(l.at),
        l.run ? "run" : "span",
        l.run ? l.run.record.sid : `${l.span!.record.trace_id}/${l.span!.record.span_id}`,
        l.error.replace(/\s+/g, " ").slice(0, 100),
      ]);
    }
    out(textTable(rows[0], rows.slice(1)) + `${letters.length} in ${store.deadLetters.path}\n`);
    return EXIT.ok;
  };
}

async function replayDeadLetters(store: Store): Promise<number> {
  const r = await store.replayDeadLetters();
  out(`${r.stored} stored, ${r.refused} still refused\n`);
  for (const e of new Set(r.errors)) err(`refused: ${e}`);
  return r.refused ? EXIT.failure : EXIT.ok;
}

/** What an action does once the store is open; resolves to the exit code. */
type Work = (store: Store) => Promise<number>;

/** Check an action's flags and arguments (usage errors before the store opens), then its work. */
type Plan = (values: Values, rest: string[], now: number) => Work;

// The list flags are the API's list parameters, spelled with dashes.
const LIST_FLAGS = LIST_PARAMS.map((p) => p.replaceAll("_", "-")) as (keyof typeof FLAGS)[];

const ACTIONS: Record<string, Plan> = {
  list(values, rest, now) {
    refuse(values, LIST_FLAGS, "list");
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const parsed = parseListQuery(pick(values, LIST_FLAGS), now);
    if (!parsed.ok) {
      throw new UsageError(
        parsed.error.replace(/^(\w+):/, (_, p: string) => `--${p.replaceAll("_", "-")}:`),
      );
    }
    return async (store) => {
      const page = await store.listRuns(parsed.value);
      out(values.json ? json(page) : listText(page.runs, page.next_cursor));
      return EXIT.ok;
    };
  },
  show(values, rest) {
    refuse(values, ["blobs", "node-offset", "node-limit"], "show");
    if (rest.length !== 1) throw new UsageError("show takes one SID");
    const nodes = {
      offset: count(values["node-offset"], "--node-offset", 0, 0, Number.MAX_SAFE_INTEGER),
      limit: count(values["node-limit"], "--node-limit", NODE_PAGE.default, 1, NODE_PAGE.max),
    };
    const sid = rest[0];
    if (!SID_PATTERN.test(sid)) throw new UsageError(`"${sid.slice(0, 60)}" is not a sid`);
    if (values.blobs !== undefined && values.blobs !== "inline" && values.blobs !== "link") {
      throw new UsageError(`--blobs: "${values.blobs}" is not "inline" or "link"`);
    }
    return async (store) => {
      const run = await store.getRun(sid, { expandBlobs: values.blobs === "inline", nodes });
      if (!run) {
        err(`astron-watch traces: no run with sid ${sid}`);
        return EXIT.failure;
      }
      out(values.json ? json(run) : runText(run));
      return EXIT.ok;
    };
  },
  stats(values, rest, now) {
    refuse(values, ["by", "since", "until"], "stats");
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const parsed = parseUsageQuery(pick(values, ["by", "since", "until"]), now);
    if (!parsed.ok) throw new UsageError(`--${parsed.error}`);
    return async (store) => {
      const stats = await store.usage(parsed.value);
      out(values.json ? json(stats) : statsText(stats.groups, stats.by));
      return EXIT.ok;
    };
  },
  "dead-letters"(values, rest) {
    refuse(values, [], "dead-letters");
    const [sub = "list", ...extra] = rest;
    if (!["list", "replay"].includes(sub) || extra.length) {
      throw new UsageError(`dead-letters takes "list" or "replay"`);
    }
    return sub === "list" ? listDeadLetters(values.json === true) : replayDeadLetters;
  },
};

const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

/**
 * The page's node log lines, ERROR first, each cut to one line: what an
 * operator opens a failed run for.
 */
function logsText(nodes: NodeLog[], offset: number): string {
  const lines: { error: boolean; text: string }[] = [];
  nodes.forEach((n, i) => {
    if (!Array.isArray(n?.logs)) return;
    for (const raw of n.logs) {
      if (typeof raw !== "string") continue;
      const log = parseLog(raw);
      const level = (log?.level ?? "").toUpperCase();
      const message = (log ? log.message : raw).replace(/\s+/g, " ");
      const where = `#${offset + i + 1} ${n.node_name ?? n.node_id ?? ""}`.trim();
      const line = `${level || "LOG"} ${where}: ${message}`;
      lines.push({
        error: level === "ERROR",
        text: line.length > 160 ? line.slice(0, 157) + "..." : line,
      });
    }
  });
  if (!lines.length) return "";
  lines.sort((a, b) => Number(b.error) - Number(a.error));
  return `\nlogs (errors first):\n${lines.map((l) => `  ${l.text}`).join("\n")}\n`;
}

/** One run as text: its fields, its page of nodes, its spans and blobs. */
function runText(run: RunDetail): string {
  const r = run.record;
  const status = r.status?.code ? `error ${r.status.code} ${r.status.message ?? ""}` : "ok";
  let text = `sid       ${r.sid}\napp_id    ${r.app_id ?? ""}\nuid       ${r.uid ?? ""}\n` +
    `chat_id   ${r.chat_id ?? ""}\nstart     ${time(r.start_time)} UTC\n` +
    `duration  ${r.duration ?? ""} ms (first frame ${r.first_frame_duration ?? ""} ms)\n` +
    `status    ${status.trim()}\ntokens    ${JSON.stringify(r.usage ?? {})}\n` +
    `question  ${(r.question ?? "").replace(/\s+/g, " ")}\n\n`;
  const page = run.nodes;
  const rows = (r.trace ?? []).map((n, i) => [
    String(page.offset + i + 1),
    n.node_type ?? String(n.node_id ?? "").split(":")[0],
    n.node_name ?? "",
    n.start_time ? time(n.start_time).slice(11) : "",
    String(n.duration ?? ""),
    n.running_status === false ? "no" : "yes",
  ]);
  text += textTable(["#", "TYPE", "NAME", "START", "MS", "OK"], rows);
  text += logsText(r.trace ?? [], page.offset);
  if (page.next_offset !== null || page.offset > 0) {
    text += `nodes ${page.offset + 1}-${page.offset + rows.length} of ${page.total}` +
      (page.next_offset !== null ? `; next page: --node-offset ${page.next_offset}` : "") + "\n";
  }
  return text + `\n${run.spans_total} span${run.spans_total === 1 ? "" : "s"}` +
    (run.blobs.length ? `, ${run.blobs.length} blob link(s) (--blobs inline to expand)` : "") +
    "\n";
}

/** The `traces` command. */
export const tracesCommand: Command = {
  name: "traces",
  summary: "query the trace store: list, show SID, stats",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, FLAGS, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [action = "list", ...rest] = positionals;
    const plan = ACTIONS[action];
    if (!plan) {
      throw new UsageError(`unknown action "${action}" (list, show SID, stats, dead-letters)`);
    }
    const work = plan(values, rest, Date.now());
    const store = await openStoreForReading(values.config, "traces");
    if (typeof store === "number") return store;
    try {
      return await work(store);
    } finally {
      await store.stop();
    }
  },
};
