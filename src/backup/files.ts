/**
 * A job's directory (`DIR/JOB/`): dumps named `YYYYMMDDTHHMMSSZ-DB.sql.gz`,
 * each with its manifest beside it (`….sql.gz.json`, written before the
 * dump takes its name, so a dump without one was never finished), a dump
 * being written as `….partial`, the job's run record (`state.json`) and its
 * run lock (`.lock`, holding the pid of the run).
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { writeDurably } from "../durable.ts";

/** What is known about one finished dump. */
export interface Manifest {
  version: 1;
  job: string;
  type: "postgres" | "mysql";
  database: string;
  /** The dump's file name (in the job's directory). */
  file: string;
  /** When the dump started, ISO 8601 UTC (also in the file name). */
  created: string;
  duration_ms: number;
  /** Bytes on disk. */
  size: number;
  sha256: string;
  compressed: boolean;
  uncompressed_bytes: number;
  tool_version?: string;
  server_version?: string;
  /** Rows per table in the dump's snapshot. */
  tables: Record<string, number>;
  /** The last verification of this file. */
  verify?: VerifyRecord;
}

/** A verification's outcome. */
export interface VerifyRecord {
  mode: "structure" | "restore";
  ok: boolean;
  at: string;
  detail: string;
}

/** A job's last runs, kept across restarts and shared with `backup now`. */
export interface JobState {
  last_run?: {
    started_at: number;
    finished_at: number;
    ok: boolean;
    error?: string;
    files: string[];
  };
  last_success?: { at: number; duration_ms: number; size: number; files: string[] };
  failures: number;
}

/** A dump on disk with its manifest. */
export interface DumpFile {
  path: string;
  /** When it was taken (from its name), epoch ms. */
  at: number;
  database: string;
  manifest: Manifest;
}

const NAME_RE = /^(\d{8}T\d{6}Z)-(.+)\.sql(\.gz)?$/;

/** `20261126T030000Z` for an instant. */
export function stampOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** The instant of a `20261126T030000Z` stamp. */
export function parseStamp(stamp: string): number {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(stamp)!;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/** A dump's file name. */
export function dumpName(at: number, database: string, compressed: boolean): string {
  return `${stampOf(at)}-${database}.sql${compressed ? ".gz" : ""}`;
}

/** The name parts of a dump file, or undefined for any other file. */
export function parseDumpName(name: string): { at: number; database: string } | undefined {
  const m = NAME_RE.exec(name);
  return m ? { at: parseStamp(m[1]), database: m[2] } : undefined;
}

/** The finished dumps in a job directory, newest first; a dump without a readable manifest is not one. */
export async function listDumps(jobDir: string): Promise<DumpFile[]> {
  const out: DumpFile[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(jobDir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const names = new Set(entries.map((e) => e.name));
  for (const e of entries) {
    const parts = e.isFile ? parseDumpName(e.name) : undefined;
    if (!parts || !names.has(`${e.name}.json`)) continue;
    const manifest = await readManifest(`${jobDir}/${e.name}`);
    if (manifest) out.push({ path: `${jobDir}/${e.name}`, ...parts, manifest });
  }
  return out.sort((a, b) => b.at - a.at || a.database.localeCompare(b.database));
}

/** The manifest beside a dump, or undefined when missing or unreadable. */
export async function readManifest(dumpPath: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await Deno.readTextFile(`${dumpPath}.json`));
    return m && m.version === 1 && typeof m.sha256 === "string" ? m as Manifest : undefined;
  } catch {
    return undefined;
  }
}

/** The job's run record (empty when there is none yet). */
export async function readState(jobDir: string): Promise<JobState> {
  try {
    return JSON.parse(await Deno.readTextFile(`${jobDir}/state.json`)) as JobState;
  } catch {
    return { failures: 0 };
  }
}

/** Save the job's run record. */
export async function writeState(jobDir: string, state: JobState): Promise<void> {
  await writeDurably(`${jobDir}/state.json`, JSON.stringify(state, null, 2) + "\n");
}

/** Raised when another run of a job holds its lock. */
export class JobBusy extends Error {
  constructor(job: string, pid: number) {
    super(`backup job ${job} is already running (pid ${pid})`);
    this.name = "JobBusy";
  }
}

/**
 * Take the job's run lock, so no two runs (the agent's and `backup now`'s)
 * write at once. A lock whose process is gone is taken over.
 */
export async function lockJob(jobDir: string, job: string): Promise<() => Promise<void>> {
  await Deno.mkdir(jobDir, { recursive: true });
  const path = `${jobDir}/.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, String(Deno.pid), { createNew: true });
      return async () => {
        await Deno.remove(path).catch(() => {});
      };
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      const pid = Number((await Deno.readTextFile(path).catch(() => "")).trim());
      if (pid && pid !== Deno.pid && alive(pid)) throw new JobBusy(job, pid);
      if (pid === Deno.pid) throw new JobBusy(job, pid);
      await Deno.remove(path).catch(() => {});
    }
  }
  throw new Error(`cannot take the lock ${path}`);
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove what a killed run left: `.partial` dumps, temporary files, and
 * manifests whose dump never took its name.
 */
export async function removeLeftovers(jobDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(jobDir))).filter((e) => e.isFile)
      .map((e) => e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new Error(errorMessage(err));
  }
  const present = new Set(names);
  const left = names.filter((n) =>
    n.endsWith(".partial") || n.endsWith(".tmp") ||
    (n.endsWith(".json") && parseDumpName(n.slice(0, -5)) && !present.has(n.slice(0, -5)))
  );
  for (const n of left) await Deno.remove(`${jobDir}/${n}`).catch(() => {});
  return left;
}
