/**
 * Housekeeping carried out: find an entry's directories, plan each
 * (`plan.ts`) with the files open for writing (`open_files.ts`), then gzip
 * and delete. One file's failure is that file's error, never the run's: a
 * run returns what it did and what failed. {@linkcode Housekeeper} is the
 * agent's component that does this for every entry on its interval, the
 * first pass for an entry it has never seen being a dry run.
 *
 * Compression is crash-safe: `NAME` is streamed through gzip into
 * `NAME.gz.partial`, synced, given `NAME`'s mtime and renamed to `NAME.gz`;
 * only then is `NAME` removed, and only if it did not change meanwhile.
 *
 * @module
 */

import { syncDir, writeDurably } from "../durable.ts";
import { basename, dirname, join } from "node:path";
import type { Component } from "../component.ts";
import type { Config } from "../config/schema.ts";
import type { HousekeepingConfig } from "../config/housekeeping.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { SerialLock } from "../serial_lock.ts";
import { type LongTimeout, setLongTimeout } from "../timers.ts";
import { findOpenForWriting } from "./open_files.ts";
import {
  type DirectoryFile,
  type HousekeepingPlan,
  PARTIAL_SUFFIX,
  planDirectory,
} from "./plan.ts";
import { expandGlob, hasGlob } from "../tail/glob.ts";

/** What became of one planned action. */
export interface FileOutcome {
  action: "compress" | "delete";
  name: string;
  ok: boolean;
  /** Bytes the action gave back (a compression: plain size minus gzipped size). */
  bytesFreed: number;
  /** Why it failed or was skipped. */
  error?: string;
}

/** One directory of an entry: its plan and, unless a dry run, what was done. */
export interface DirectoryRun {
  dir: string;
  plan: HousekeepingPlan;
  done: FileOutcome[];
}

/** A failure naming the file or directory it concerns. */
export interface HousekeepingError {
  file: string;
  error: string;
}

/** What one run of one entry did. */
export interface EntryRunResult {
  path: string;
  pattern: string;
  dryRun: boolean;
  /** When it ran, ms since the epoch. */
  at: number;
  directories: DirectoryRun[];
  bytesFreed: number;
  compressed: number;
  deleted: number;
  errors: HousekeepingError[];
  /** Processes whose open files could not be read (their files are not known to be open). */
  unreadableProcesses: number;
}

/** Options for {@linkcode runEntry}. */
export interface RunEntryOptions {
  /** The time to plan at, ms since the epoch (default now). */
  now?: number;
  /** Plan only; touch nothing. */
  dryRun?: boolean;
  /** Stops a run between files. */
  signal?: AbortSignal;
}

/** The directories a `path` (a directory or a glob of them) names now, sorted. */
export async function expandDirectories(
  path: string,
): Promise<{ dirs: string[]; error?: string }> {
  if (!hasGlob(path)) {
    try {
      const st = await Deno.stat(path);
      return st.isDirectory ? { dirs: [path] } : { dirs: [], error: "not a directory" };
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound ? "no such directory" : errorMessage(err);
      return { dirs: [], error: why };
    }
  }
  return { dirs: await expandGlob(path, "directory") };
}

/** The regular files of a directory with their sizes and mtimes (not yet whether open). */
export async function listDirectory(
  dir: string,
): Promise<
  { ok: true; files: Omit<DirectoryFile, "openForWriting">[] } | { ok: false; error: string }
> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
  const files: Omit<DirectoryFile, "openForWriting">[] = [];
  for (const name of names) {
    const st = await Deno.lstat(join(dir, name)).catch(() => undefined);
    if (st?.isFile) files.push({ name, size: st.size, mtime: st.mtime?.getTime() ?? 0 });
  }
  return { ok: true, files };
}

function closeQuietly(f: Deno.FsFile): void {
  try {
    f.close();
  } catch {
    // closed already (a stream closes its file when it ends or fails)
  }
}

async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/** A planned file someone else removed first: not an error. */
const GONE = "gone already";

/** The file is still what was planned: same size and mtime. */
async function unchanged(path: string, size: number, mtime: number): Promise<string | undefined> {
  try {
    const st = await Deno.lstat(path);
    if (!st.isFile) return "no longer a regular file";
    if (st.size !== size || (st.mtime?.getTime() ?? 0) !== mtime) {
      return "changed since it was planned; left alone";
    }
    return undefined;
  } catch (err) {
    return err instanceof Deno.errors.NotFound ? GONE : errorMessage(err);
  }
}

/**
 * Gzip one file beside itself (`NAME.gz`, same mtime and mode), then remove it.
 *
 * @param size the size the plan saw; a file that changed since is left alone.
 * @param mtime the mtime the plan saw.
 * @returns the gzipped size, or the error (the original then stays as it was).
 */
export async function compressFile(
  path: string,
  size: number,
  mtime: number,
): Promise<{ ok: true; size: number } | { ok: false; error: string }> {
  const gz = `${path}.gz`;
  const partial = `${path}${PARTIAL_SUFFIX}`;
  if (await Deno.lstat(gz).then(() => true, () => false)) {
    return { ok: false, error: `${basename(gz)} exists already; left alone` };
  }
  const changed = await unchanged(path, size, mtime);
  if (changed) return { ok: false, error: changed };
  let src: Deno.FsFile | undefined;
  let dst: Deno.FsFile | undefined;
  try {
    src = await Deno.open(path, { read: true });
    const st = await src.stat();
    const mode = (st.mode ?? 0o640) & 0o777;
    dst = await Deno.open(partial, { write: true, create: true, truncate: true, mode });
    await Deno.chmod(partial, mode).catch(() => {});
    // Written chunk by chunk: with Deno 2.9, piping into dst.writable with
    // preventClose left the file short when it was synced and closed next.
    for await (const chunk of src.readable.pipeThrough(new CompressionStream("gzip"))) {
      for (let off = 0; off < chunk.length;) off += await dst.write(chunk.subarray(off));
    }
    await dst.sync();
    closeQuietly(dst);
    dst = undefined;
    const after = await unchanged(path, size, mtime);
    if (after) throw new Error(after.replace("since it was planned", "while it was compressed"));
    await Deno.utime(partial, st.atime ?? new Date(mtime), new Date(mtime));
    await Deno.rename(partial, gz);
    await syncDir(dirname(path));
    await Deno.remove(path);
    return { ok: true, size: (await Deno.lstat(gz)).size };
  } catch (err) {
    if (dst) closeQuietly(dst);
    await removeQuietly(partial);
    return { ok: false, error: errorMessage(err) };
  } finally {
    if (src) closeQuietly(src);
  }
}

/** Delete one planned file, if it is still what the plan saw. */
async function deleteFile(path: string, size: number, mtime: number): Promise<string | undefined> {
  const changed = await unchanged(path, size, mtime);
  if (changed) return changed;
  try {
    await Deno.remove(path);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

/**
 * Run one `housekeeping:` entry once: plan every directory it names and,
 * unless `dryRun`, gzip and delete as planned. After gzipping, the budget is
 * planned again with the real compressed sizes before anything is deleted.
 * Never throws.
 */
export async function runEntry(
  entry: HousekeepingConfig,
  options: RunEntryOptions = {},
): Promise<EntryRunResult> {
  const now = options.now ?? Date.now();
  const result: EntryRunResult = {
    path: entry.path,
    pattern: entry.pattern,
    dryRun: !!options.dryRun,
    at: now,
    directories: [],
    bytesFreed: 0,
    compressed: 0,
    deleted: 0,
    errors: [],
    unreadableProcesses: 0,
  };
  const { dirs, error } = await expandDirectories(entry.path);
  if (error) result.errors.push({ file: entry.path, error });
  if (!dirs.length) return result;
  const open = await findOpenForWriting(dirs);
  if (!open.ok) {
    result.errors.push({
      file: entry.path,
      error: `cannot tell which files are open for writing (${open.error}); nothing done`,
    });
    return result;
  }
  result.unreadableProcesses = open.unreadable;
  for (const dir of dirs) {
    if (options.signal?.aborted) break;
    const writing = open.writing.get(dir) ?? new Set<string>();
    const plan = await planOne(dir, entry, now, writing);
    if (!plan.ok) {
      result.errors.push({ file: dir, error: plan.error });
      continue;
    }
    const run: DirectoryRun = { dir, plan: plan.plan, done: [] };
    result.directories.push(run);
    if (!options.dryRun) await execute(run, entry, now, writing, result, options.signal);
  }
  return result;
}

async function planOne(
  dir: string,
  policy: HousekeepingConfig,
  now: number,
  writing: Set<string>,
): Promise<{ ok: true; plan: HousekeepingPlan } | { ok: false; error: string }> {
  const listed = await listDirectory(dir);
  if (!listed.ok) return listed;
  const files = listed.files.map((f) => ({ ...f, openForWriting: writing.has(f.name) }));
  return { ok: true, plan: planDirectory(files, policy, { now }) };
}

async function execute(
  run: DirectoryRun,
  entry: HousekeepingConfig,
  now: number,
  writing: Set<string>,
  result: EntryRunResult,
  signal?: AbortSignal,
): Promise<void> {
  const record = (o: FileOutcome) => {
    run.done.push(o);
    result.bytesFreed += o.bytesFreed;
    if (o.ok) result[o.action === "compress" ? "compressed" : "deleted"]++;
    else if (o.error !== GONE) {
      result.errors.push({ file: join(run.dir, o.name), error: o.error ?? "failed" });
    }
  };
  const first = run.plan;
  for (const a of first.actions) {
    if (a.action !== "compress" || signal?.aborted) continue;
    const r = await compressFile(join(run.dir, a.name), a.size, a.mtime);
    record(
      r.ok
        ? { action: "compress", name: a.name, ok: true, bytesFreed: Math.max(0, a.size - r.size) }
        : { action: "compress", name: a.name, ok: false, bytesFreed: 0, error: r.error },
    );
  }
  let deletions = first.actions.filter((a) => a.action === "delete");
  if (result.compressed && entry.max_size > 0) {
    // The budget again, with the sizes gzip really gave.
    const again = await planOne(run.dir, { ...entry, compress_after: 0 }, now, writing);
    if (again.ok) {
      deletions = again.plan.actions.filter((a) => a.action === "delete");
      run.plan = {
        ...again.plan,
        actions: [...first.actions.filter((a) => a.action === "compress"), ...deletions],
        kept: first.kept,
        bytesBefore: first.bytesBefore,
      };
    }
  }
  for (const a of deletions) {
    if (signal?.aborted) break;
    const error = await deleteFile(join(run.dir, a.name), a.size, a.mtime);
    record({ action: "delete", name: a.name, ok: !error, bytesFreed: error ? 0 : a.size, error });
  }
}

/** Options for {@linkcode Housekeeper}. */
export interface HousekeeperOptions {
  entries: HousekeepingConfig[];
  /** Where the state file (`state.json`: the entries seen before) is kept. */
  dir: string;
  logger: Logger;
  /** The clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
}

/** Counters and the last run of one entry. */
export interface HousekeepingEntryStats {
  path: string;
  pattern: string;
  runs: number;
  lastRun?: number;
  lastDryRun?: boolean;
  bytesFreed: number;
  filesCompressed: number;
  filesDeleted: number;
  /** The plans of the last run, per directory. */
  lastPlan: DirectoryRun[];
  /** The errors of the last run. */
  errors: HousekeepingError[];
}

/** What {@linkcode Housekeeper.stats} returns. */
export interface HousekeeperStats {
  /** Bytes freed since start, all entries (`astron_watch_housekeeping_bytes_freed_total`). */
  bytesFreed: number;
  filesCompressed: number;
  filesDeleted: number;
  entries: HousekeepingEntryStats[];
}

/** Dry-run actions logged one by one; the rest are counted. */
const LOGGED_ACTIONS = 50;

function keyOf(e: HousekeepingConfig): string {
  return `${e.path}\t${e.pattern}`;
}

/**
 * The `housekeeping` component: every entry on its `interval`, the first
 * pass at start. An entry never seen before (by `path` and `pattern`, kept
 * in `DIR/state.json`) gets a dry run that only logs its plan; later passes act.
 */
export class Housekeeper implements Component {
  readonly name = "housekeeping";
  #entries: HousekeepingConfig[];
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #lock = new SerialLock();
  readonly #timers = new Map<string, LongTimeout>();
  /** When each entry's wait for its next pass began. */
  readonly #armedAt = new Map<string, number>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #stats = new Map<string, HousekeepingEntryStats>();
  #seen = new Map<string, number>();
  #abort = new AbortController();
  #running = false;
  #totals = { bytesFreed: 0, filesCompressed: 0, filesDeleted: 0 };

  constructor(options: HousekeeperOptions) {
    this.#entries = [...options.entries];
    this.#dir = options.dir;
    this.#logger = options.logger.child({ component: "housekeeping" });
    this.#now = options.now ?? Date.now;
  }

  /** Read the state file and start the first pass of every entry (not awaited: see {@linkcode idle}). */
  async start(): Promise<void> {
    await this.#loadState();
    this.#abort = new AbortController();
    this.#running = true;
    for (const e of this.#entries) this.#kick(e);
  }

  /** Stop the timers and wait for the pass under way (it stops between files). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    for (const t of this.#timers.values()) t.clear();
    this.#timers.clear();
    await this.idle();
  }

  /** Take the new `housekeeping:` entries; a new one starts with its (dry) first pass. */
  reload(config: Config): void {
    const old = new Set(this.#entries.map(keyOf));
    this.#entries = [...config.housekeeping];
    for (const t of this.#timers.values()) t.clear();
    this.#timers.clear();
    const keys = new Set(this.#entries.map(keyOf));
    for (const k of this.#stats.keys()) if (!keys.has(k)) this.#stats.delete(k);
    for (const k of this.#armedAt.keys()) if (!keys.has(k)) this.#armedAt.delete(k);
    if (!this.#running) return;
    // An entry kept keeps its schedule (a SIGHUP a day must not postpone a daily pass forever);
    // one whose pass is under way is armed when that pass ends.
    const now = this.#now();
    for (const e of this.#entries) {
      const armedAt = this.#armedAt.get(keyOf(e));
      if (!old.has(keyOf(e))) this.#kick(e);
      else if (armedAt !== undefined) {
        this.#arm(e, Math.max(0, armedAt + e.interval - now), armedAt);
      }
    }
  }

  /** Resolves once no pass is under way. */
  async idle(): Promise<void> {
    while (this.#inflight.size) await Promise.all([...this.#inflight]);
  }

  /** Counters since start and each entry's last run. */
  stats(): HousekeeperStats {
    return {
      ...this.#totals,
      entries: this.#entries.map((e) => this.#stats.get(keyOf(e)) ?? this.#blank(e)),
    };
  }

  #blank(e: HousekeepingConfig): HousekeepingEntryStats {
    return {
      path: e.path,
      pattern: e.pattern,
      runs: 0,
      bytesFreed: 0,
      filesCompressed: 0,
      filesDeleted: 0,
      lastPlan: [],
      errors: [],
    };
  }

  #kick(entry: HousekeepingConfig): void {
    const key = keyOf(entry);
    this.#armedAt.delete(key); // a pass under way: the next wait begins when it ends
    const p = this.#pass(entry).catch((err) =>
      this.#logger.error("housekeeping pass failed", { path: entry.path, error: err })
    ).finally(() => {
      this.#inflight.delete(p);
      // The entry as configured now (a reload may have replaced it), if still there.
      const current = this.#entries.find((e) => keyOf(e) === key);
      if (this.#running && current) this.#arm(current);
    });
    this.#inflight.add(p);
  }

  /** Run `entry` again after `delay` (its interval by default), counted from `armedAt`. */
  #arm(entry: HousekeepingConfig, delay = entry.interval, armedAt = this.#now()): void {
    const key = keyOf(entry);
    this.#timers.get(key)?.clear();
    this.#armedAt.set(key, armedAt);
    this.#timers.set(key, setLongTimeout(() => this.#kick(entry), delay));
  }

  async #pass(entry: HousekeepingConfig): Promise<void> {
    const key = keyOf(entry);
    const dryRun = !this.#seen.has(key);
    const signal = this.#abort.signal;
    const result = await this.#lock.run(() =>
      signal.aborted ? Promise.resolve(undefined) : runEntry(entry, {
        now: this.#now(),
        dryRun,
        signal,
      })
    );
    if (!result) return;
    if (dryRun && !signal.aborted) {
      this.#seen.set(key, result.at);
      await this.#saveState();
    }
    const s = this.#stats.get(key) ?? this.#blank(entry);
    this.#stats.set(key, {
      ...s,
      runs: s.runs + 1,
      lastRun: result.at,
      lastDryRun: dryRun,
      bytesFreed: s.bytesFreed + result.bytesFreed,
      filesCompressed: s.filesCompressed + result.compressed,
      filesDeleted: s.filesDeleted + result.deleted,
      lastPlan: result.directories,
      errors: result.errors,
    });
    this.#totals.bytesFreed += result.bytesFreed;
    this.#totals.filesCompressed += result.compressed;
    this.#totals.filesDeleted += result.deleted;
    this.#log(result, entry.interval);
  }

  #log(result: EntryRunResult, interval: number): void {
    const log = this.#logger.child({ path: result.path, pattern: result.pattern });
    for (const e of result.errors) log.warn("housekeeping failed for a file", { ...e });
    let logged = 0;
    for (const d of result.directories) {
      if (result.dryRun) {
        for (const a of d.plan.actions) {
          if (logged++ >= LOGGED_ACTIONS) break;
          log.info(`would ${a.action}`, {
            file: join(d.dir, a.name),
            size: a.size,
            reason: a.reason,
          });
        }
      } else {
        for (const o of d.done) {
          if (!o.ok) continue;
          log.info(o.action === "compress" ? "compressed" : "deleted", {
            file: join(d.dir, o.name),
            bytes_freed: o.bytesFreed,
            reason: d.plan.actions.find((a) => a.name === o.name && a.action === o.action)
              ?.reason,
          });
        }
      }
      if (d.plan.overBudget > 0) {
        log.warn("still over max_size: the rest is protected", {
          dir: d.dir,
          bytes: d.plan.bytesAfter,
          max_size: d.plan.maxSize,
          over: d.plan.overBudget,
        });
      }
    }
    const planned = result.directories.flatMap((d) => d.plan.actions);
    if (result.dryRun) {
      log.info("housekeeping dry run (first pass for this entry): nothing touched", {
        compress: planned.filter((a) => a.action === "compress").length,
        delete: planned.filter((a) => a.action === "delete").length,
        not_logged: Math.max(0, planned.length - LOGGED_ACTIONS),
        acts_from: new Date(result.at + interval).toISOString(),
      });
    } else if (planned.length || result.errors.length) {
      log.info("housekeeping pass", {
        bytes_freed: result.bytesFreed,
        compressed: result.compressed,
        deleted: result.deleted,
        errors: result.errors.length,
        unreadable_processes: result.unreadableProcesses,
      });
    } else log.debug("housekeeping pass: nothing to do");
  }

  async #loadState(): Promise<void> {
    const file = join(this.#dir, "state.json");
    try {
      const data = JSON.parse(await Deno.readTextFile(file));
      const seen = data?.seen;
      this.#seen = new Map(
        seen && typeof seen === "object"
          ? Object.entries(seen).filter((e): e is [string, number] => typeof e[1] === "number")
          : [],
      );
    } catch (err) {
      this.#seen = new Map();
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#logger.warn("housekeeping state unreadable: every entry starts with a dry run", {
          file,
          error: err,
        });
      }
    }
  }

  async #saveState(): Promise<void> {
    const file = join(this.#dir, "state.json");
    try {
      await Deno.mkdir(this.#dir, { recursive: true });
      const text = JSON.stringify({ version: 1, seen: Object.fromEntries(this.#seen) }, null, 2);
      await writeDurably(file, text + "\n");
    } catch (err) {
      this.#logger.warn("housekeeping state not saved: a restart repeats the dry run", {
        file,
        error: err,
      });
    }
  }
}
