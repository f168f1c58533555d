/**
 * Housekeeping plans, pure: given the files of one log directory, a policy
 * and the time, which rotated files to gzip and which to delete, each with
 * its reason. Nothing here touches the disk ({@linkcode executePlan} in
 * `run.ts` does).
 *
 * Files are grouped into series, a log and its rotations:
 * `core.log`, `core.2026-11-26_10-00-00_123456.log` (loguru) and
 * `core.2026-11-26_10-00-00_123456.log.gz` are the series `core.log`;
 * `access.log`, `access.log.1`, `access.log.2.gz` and `access.log-20261126`
 * (logrotate) are the series `access.log`.
 *
 * Rules, in order:
 * 1. Never touched: a file some process has open for writing, the live file
 *    of a series (named as the series) and the newest file of each series.
 * 2. Never deleted: the `keep_min` newest files of each series.
 * 3. Deleted: files older than `max_age`.
 * 4. Gzipped: rotated files older than `compress_after`, unless compressed
 *    already or numbered (`access.log.1`: logrotate or Python shifts `.1` to
 *    `.2` on its next rotation and would leave a `.1.gz` of ours behind).
 * 5. Deleted, oldest first across series, while the directory's files
 *    (counted as they will be after gzip, estimated) exceed `max_size`.
 *
 * @example
 * ```ts
 * import { planDirectory } from "./plan.ts";
 * const day = 86_400_000, now = Date.UTC(2026, 10, 27);
 * const plan = planDirectory([
 *   { name: "core.log", size: 500, mtime: now, openForWriting: true },
 *   { name: "core.2026-11-26_10-00-00_123456.log", size: 10e6, mtime: now - 2 * day, openForWriting: false },
 *   { name: "core.2026-11-20_10-00-00_123456.log", size: 10e6, mtime: now - 9 * day, openForWriting: false },
 * ], { match: /^/, max_size: 0, max_age: 7 * day, compress_after: day, keep_min: 1 }, { now });
 * plan.actions.map((a) => `${a.action} ${a.name}`);
 * // ["compress core.2026-11-26_10-00-00_123456.log", "delete core.2026-11-20_10-00-00_123456.log"]
 * ```
 *
 * @module
 */

import { formatDuration } from "../config/units.ts";
import { isCompressed, seriesOf } from "../tail/series.ts";

/** One regular file of a log directory, as the planner sees it. */
export interface DirectoryFile {
  name: string;
  /** Bytes. */
  size: number;
  /** Last modification, ms since the epoch. */
  mtime: number;
  /** True when some process has the file open for writing. */
  openForWriting: boolean;
}

/** What decides a plan: an entry of `housekeeping:` (see `src/config/housekeeping.ts`). */
export interface PlanPolicy {
  /** File names looked at: a file matches when its name or its series does. */
  match: RegExp;
  /** Bytes the matched files may take in all (0: no budget). */
  max_size: number;
  /** Files older than this are deleted, ms (0: no limit). */
  max_age: number;
  /** Rotated files older than this are gzipped, ms (0: never). */
  compress_after: number;
  /** Files of each series never deleted, newest first (at least 1). */
  keep_min: number;
}

/** Options for {@linkcode planDirectory}. */
export interface PlanOptions {
  /** The time to plan at, ms since the epoch. */
  now: number;
  /** Assumed size of a gzipped log relative to the plain one (default 0.15). */
  compressedRatio?: number;
}

/** One thing to do to one file. */
export interface PlanAction {
  action: "compress" | "delete";
  name: string;
  /** The series the file belongs to (`core.log`). */
  series: string;
  size: number;
  mtime: number;
  /** Why, in words: `older than max_age 30d`. */
  reason: string;
  /** `compress`: the size after gzip, estimated. */
  estimatedSize?: number;
}

/** A file a rule would have acted on but a protection spared. */
export interface PlanKept {
  name: string;
  size: number;
  mtime: number;
  /** The protection: `open for writing by a process`. */
  reason: string;
}

/** The plan for one directory. */
export interface HousekeepingPlan {
  /** Compressions first, then deletions, each oldest first. */
  actions: PlanAction[];
  /** Files a rule matched but that stay as they are, with why. */
  kept: PlanKept[];
  /** Files looked at (matching the pattern). */
  files: number;
  /** Series among them. */
  series: number;
  /** Bytes of the files looked at, now. */
  bytesBefore: number;
  /** Bytes after the plan (compressed sizes estimated). */
  bytesAfter: number;
  /** The budget (0: none). */
  maxSize: number;
  /** Bytes still over the budget after the plan: what the protections keep (0 when within). */
  overBudget: number;
}

/** `NAME.1`: a chain whose rotator shifts names (logrotate, Python), which a `.gz` would break. */
const NUMBERED = /\.\d+$/;
/** What an interrupted compression leaves (see `run.ts`). */
export const PARTIAL_SUFFIX = ".gz.partial";
/** A leftover partial file this old is an interrupted compression, not one under way. */
const PARTIAL_STALE_MS = 3_600_000;

/**
 * A byte count in the config's units (powers of 1000): `0B`, `512B`, `1.5KB`, `5.2GB`.
 */
export function formatSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let n = bytes;
  let u = 0;
  while (Math.abs(n) >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : +n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)}${units[u]}`;
}

interface Tracked extends DirectoryFile {
  series: string;
  /** Position in the series, newest first. */
  rank: number;
  /** Why it is never touched, if it is not. */
  untouchable?: string;
  /** Size once the plan is done. */
  after: number;
  action?: PlanAction;
  /** Already listed in `kept`. */
  kept?: boolean;
}

function newestFirst(a: Tracked, b: Tracked): number {
  if (a.mtime !== b.mtime) return b.mtime - a.mtime;
  const aLive = a.name === a.series, bLive = b.name === b.series;
  if (aLive !== bLive) return aLive ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function oldestFirst(a: { mtime: number; name: string }, b: { mtime: number; name: string }) {
  if (a.mtime !== b.mtime) return a.mtime - b.mtime;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Plan one directory (see the module doc for the rules).
 *
 * @param files the directory's regular files; names not matching the policy are left out.
 * @returns what to do, what is kept despite a rule, and the bytes before and after.
 */
export function planDirectory(
  files: readonly DirectoryFile[],
  policy: PlanPolicy,
  options: PlanOptions,
): HousekeepingPlan {
  const { now } = options;
  const ratio = options.compressedRatio ?? 0.15;
  const actions: PlanAction[] = [];
  const kept: PlanKept[] = [];
  const keep = (f: Tracked, reason: string) => {
    if (f.kept) return;
    f.kept = true;
    kept.push({ name: f.name, size: f.size, mtime: f.mtime, reason });
  };
  const act = (f: Tracked, action: PlanAction["action"], reason: string, after: number) => {
    f.action = { action, name: f.name, series: f.series, size: f.size, mtime: f.mtime, reason };
    if (action === "compress") f.action.estimatedSize = after;
    f.after = after;
  };

  const bySeries = new Map<string, Tracked[]>();
  const partials: Tracked[] = [];
  for (const file of files) {
    if (file.name.endsWith(PARTIAL_SUFFIX)) {
      const of = file.name.slice(0, -PARTIAL_SUFFIX.length);
      const series = seriesOf(of);
      if (policy.match.test(of) || policy.match.test(series)) {
        partials.push({ ...file, series, rank: Infinity, after: file.size });
      }
      continue;
    }
    const series = seriesOf(file.name);
    if (!policy.match.test(file.name) && !policy.match.test(series)) continue;
    const t: Tracked = { ...file, series, rank: 0, after: file.size };
    const list = bySeries.get(series);
    if (list) list.push(t);
    else bySeries.set(series, [t]);
  }
  const tracked: Tracked[] = [];
  for (const list of bySeries.values()) {
    list.sort(newestFirst);
    list.forEach((f, rank) => {
      f.rank = rank;
      if (f.openForWriting) f.untouchable = "open for writing by a process";
      else if (f.name === f.series) f.untouchable = "the live file of its series";
      else if (rank === 0) f.untouchable = "the newest file of its series";
      tracked.push(f);
    });
  }
  const deletable = (f: Tracked) => !f.untouchable && f.rank >= policy.keep_min;
  const whyNotDeleted = (f: Tracked) =>
    f.untouchable ?? `one of the ${policy.keep_min} newest of its series (keep_min)`;

  for (const p of partials) {
    if (!p.openForWriting && now - p.mtime > PARTIAL_STALE_MS) {
      act(p, "delete", "left by an interrupted compression", 0);
      tracked.push(p);
    }
  }

  if (policy.max_age > 0) {
    for (const f of tracked) {
      if (f.action || now - f.mtime <= policy.max_age) continue;
      if (deletable(f)) act(f, "delete", `older than max_age ${formatDuration(policy.max_age)}`, 0);
      else keep(f, whyNotDeleted(f));
    }
  }

  if (policy.compress_after > 0) {
    for (const f of tracked) {
      if (f.action || f.name === f.series || isCompressed(f.name)) continue;
      if (now - f.mtime <= policy.compress_after) continue;
      if (f.untouchable) {
        keep(f, f.untouchable);
        continue;
      }
      if (NUMBERED.test(f.name)) {
        keep(f, "a numbered rotation: its rotator renames it, so it is not gzipped here");
        continue;
      }
      const reason = `older than compress_after ${formatDuration(policy.compress_after)}`;
      act(f, "compress", reason, Math.ceil(f.size * ratio));
    }
  }

  const bytesBefore = tracked.reduce((n, f) => n + f.size, 0);
  let total = tracked.reduce((n, f) => n + f.after, 0);
  if (policy.max_size > 0 && total > policy.max_size) {
    const candidates = tracked.filter((f) => f.action?.action !== "delete" && deletable(f))
      .sort(oldestFirst);
    const reason = `oldest while over max_size ${formatSize(policy.max_size)}`;
    for (const f of candidates) {
      if (total <= policy.max_size) break;
      total -= f.after;
      act(f, "delete", reason, 0);
    }
  }

  for (const f of tracked) if (f.action) actions.push(f.action);
  actions.sort((a, b) =>
    a.action !== b.action ? (a.action === "compress" ? -1 : 1) : oldestFirst(a, b)
  );
  kept.sort(oldestFirst);
  return {
    actions,
    kept,
    files: tracked.length,
    series: bySeries.size,
    bytesBefore,
    bytesAfter: total,
    maxSize: policy.max_size,
    overBudget: policy.max_size > 0 ? Math.max(0, total - policy.max_size) : 0,
  };
}
