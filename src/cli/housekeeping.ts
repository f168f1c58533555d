/**
 * `astron-watch housekeeping [--dry-run]`: every `housekeeping:` entry of
 * the config once, now: rotated logs gzipped and old ones deleted to stay
 * within the budget; `--dry-run` prints the plan and touches nothing.
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import type { HousekeepingConfig } from "../config/housekeeping.ts";
import { formatDuration } from "../config/units.ts";
import { type DirectoryRun, type EntryRunResult, runEntry } from "../housekeeping/run.ts";
import { formatSize } from "../housekeeping/plan.ts";
import { textTable } from "../text_table.ts";
import { type Command, err, EXIT, out, parseFlags } from "./command.ts";

const USAGE = `usage: astron-watch housekeeping [--config FILE] [--dry-run] [--json]

Runs every housekeeping: entry of the config once, now: rotated log files
older than compress_after are gzipped, files older than max_age deleted, then
the oldest deleted while a directory is over max_size. Never touched: a file
a process has open for writing, the live file and the newest file of each
series (core.log with its core.2026-11-26_10-00-00_123456.log rotations;
access.log with access.log.1, .2.gz, -20261126); never deleted: the keep_min
newest of a series. Numbered rotations (access.log.1) are not gzipped: their
rotator renames them.

options:
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present)
  --dry-run           print the plan (action, file, size, age, reason) and touch nothing;
                      deletions for max_size assume gzip leaves 15% of a log,
                      a real run measures
  --json              print the runs as JSON
  -h, --help          show this help

Open files are found in /proc; processes of other users are visible only to
root, so run it as the user that owns the logs' writers, or as root.

Exit codes: 0 ok, 1 a file or directory could not be handled, 2 usage or
config error.
`;

/** The `housekeeping` command. */
export const housekeepingCommand: Command = {
  name: "housekeeping",
  summary: "keep log directories within their budget now (--dry-run: print the plan)",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, {
      config: { type: "string", short: "c" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    });
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const loaded = await loadConfig({ path: values.config });
    if (!loaded.ok) {
      for (const p of loaded.problems) err(formatProblem(p));
      return EXIT.usage;
    }
    const entries = loaded.config.housekeeping;
    const dryRun = !!values["dry-run"];
    if (!entries.length) {
      const where = loaded.source.kind === "file" ? loaded.source.path : "the built-in defaults";
      err(`astron-watch housekeeping: ${where} has no housekeeping: entries; nothing to do`);
      return EXIT.ok;
    }
    const now = Date.now();
    const results: EntryRunResult[] = [];
    for (const entry of entries) results.push(await runEntry(entry, { now, dryRun }));
    if (values.json) out(JSON.stringify({ dryRun, entries: results }, null, 2) + "\n");
    else out(results.map((r, i) => entryText(entries[i], r, now)).join("\n"));
    let failed = false;
    for (const r of results) {
      for (const e of r.errors) {
        err(`astron-watch housekeeping: ${e.file}: ${e.error}`);
        failed = true;
      }
    }
    const unreadable = Math.max(0, ...results.map((r) => r.unreadableProcesses));
    if (unreadable) {
      err(
        `astron-watch housekeeping: note: the open files of ${unreadable} processes could not be read (other users'); their files are spared only as the newest of their series`,
      );
    }
    return failed ? EXIT.failure : EXIT.ok;
  },
};

function policyText(e: HousekeepingConfig): string {
  const parts: string[] = [];
  if (e.pattern !== "*") parts.push(`pattern ${e.pattern}`);
  if (e.max_size) parts.push(`max_size ${formatSize(e.max_size)}`);
  if (e.max_age) parts.push(`max_age ${formatDuration(e.max_age)}`);
  if (e.compress_after) parts.push(`compress_after ${formatDuration(e.compress_after)}`);
  parts.push(`keep_min ${e.keep_min}`);
  return parts.join(", ");
}

function entryText(entry: HousekeepingConfig, r: EntryRunResult, now: number): string {
  if (!r.directories.length) {
    return r.errors.length ? "" : `${r.path}: no directory matches\n`;
  }
  return r.directories.map((d) => directoryText(entry, r.dryRun, d, now)).join("\n");
}

function directoryText(
  entry: HousekeepingConfig,
  dryRun: boolean,
  d: DirectoryRun,
  now: number,
): string {
  const { plan } = d;
  const head = `${d.dir}${dryRun ? ": dry run, nothing touched" : ""} (${policyText(entry)})\n`;
  const budget = plan.maxSize ? ` of max_size ${formatSize(plan.maxSize)}` : "";
  const sizes = `${plan.files} files, ${formatSize(plan.bytesBefore)}`;
  if (!plan.actions.length && !plan.kept.length) {
    return `${head}nothing to do (${sizes}${budget})\n`;
  }
  const age = (mtime: number) => formatDuration(Math.max(0, now - mtime));
  const rows: string[][] = [];
  for (const a of plan.actions) {
    const done = d.done.find((o) => o.name === a.name && o.action === a.action);
    const action = dryRun
      ? a.action
      : !done
      ? `${a.action} (not run)`
      : done.ok
      ? (a.action === "compress" ? "compressed" : "deleted")
      : `${a.action} failed`;
    const reason = done && !done.ok ? `${done.error}` : a.reason;
    rows.push([action, a.name, formatSize(a.size), age(a.mtime), reason]);
  }
  for (const k of plan.kept) {
    rows.push(["keep", k.name, formatSize(k.size), age(k.mtime), k.reason]);
  }
  let text = head + textTable(["ACTION", "FILE", "SIZE", "AGE", "REASON"], rows);
  const compress = plan.actions.filter((a) => a.action === "compress");
  const del = plan.actions.filter((a) => a.action === "delete");
  const sum = (xs: { size: number }[]) => formatSize(xs.reduce((n, x) => n + x.size, 0));
  if (dryRun) {
    const est = compress.reduce((n, a) => n + (a.estimatedSize ?? a.size), 0);
    text += `to compress: ${compress.length} (${sum(compress)} -> about ${formatSize(est)}); ` +
      `to delete: ${del.length} (${sum(del)}); ${formatSize(plan.bytesBefore)} -> about ${
        formatSize(plan.bytesAfter)
      }${budget}\n`;
  } else {
    const freed = d.done.reduce((n, o) => n + o.bytesFreed, 0);
    const ok = (kind: string) => d.done.filter((o) => o.ok && o.action === kind).length;
    const failed = d.done.filter((o) => !o.ok).length;
    text += `compressed: ${ok("compress")}, deleted: ${ok("delete")}, failed: ${failed}; ` +
      `freed ${formatSize(freed)}; ${formatSize(plan.bytesBefore)} -> ${
        formatSize(plan.bytesBefore - freed)
      }${budget}\n`;
  }
  if (plan.overBudget > 0) {
    text += `still ${formatSize(plan.overBudget)} over max_size: the rest is protected\n`;
  }
  return text;
}
