/**
 * One run of a backup job, the same for the agent's schedule and `backup
 * now`: take the job's lock, clear what a killed run left, dump each
 * database, verify each dump (a dump that fails is removed), copy it to
 * `copy_to`, apply retention, and record the run in `state.json`.
 *
 * @module
 */

import type { BackupJob } from "../config/backups.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import { syncDir, writeDurably } from "../durable.ts";
import { dumpDatabase } from "./dump.ts";
import {
  type DumpFile,
  listDumps,
  lockJob,
  type Manifest,
  readState,
  removeLeftovers,
  writeState,
} from "./files.ts";
import { planRetention } from "./retention.ts";
import { runTool } from "./spawn.ts";
import { listDatabasesSql, queryCommand, userDatabases, verifyEndpoint } from "./tools.ts";
import { verifyRestore, verifyStructure } from "./verify.ts";

/** One database's part of a run. */
export interface DatabaseOutcome {
  database: string;
  ok: boolean;
  file?: string;
  size?: number;
  error?: string;
  verify?: string;
}

/** A run's outcome. */
export interface JobRunResult {
  job: string;
  ok: boolean;
  started_at: number;
  duration_ms: number;
  databases: DatabaseOutcome[];
  /** Files removed by retention. */
  removed: string[];
  /** A failure before any database (lock, listing). */
  error?: string;
}

/** Options for {@linkcode runJob}. */
export interface RunJobOptions {
  now?: () => number;
  logger?: Logger;
}

/** The job's own directory. */
export function jobDir(job: BackupJob): string {
  return `${job.dir}/${job.name}`;
}

/** Run `job` once, now. Never throws. */
export async function runJob(job: BackupJob, o: RunJobOptions = {}): Promise<JobRunResult> {
  const now = o.now ?? Date.now;
  const dir = jobDir(job);
  const started = now();
  const t0 = performance.now();
  const result: JobRunResult = {
    job: job.name,
    ok: false,
    started_at: started,
    duration_ms: 0,
    databases: [],
    removed: [],
  };
  let release: () => Promise<void>;
  try {
    release = await lockJob(dir, job.name);
  } catch (err) {
    result.error = errorMessage(err);
    result.duration_ms = Math.round(performance.now() - t0);
    return result;
  }
  try {
    await removeLeftovers(dir);
    // Dumps are named to the second: a run in the same second as the last takes the next one.
    const newest = (await listDumps(dir))[0];
    if (newest && result.started_at < newest.at + 1000) result.started_at = newest.at + 1000;
    const databases = await databasesOf(job);
    if ("error" in databases) {
      result.error = databases.error;
    } else {
      for (const database of databases) {
        result.databases.push(
          await backupOne(job, database, dir, result.started_at, o.logger),
        );
      }
      result.ok = result.databases.length > 0 && result.databases.every((d) => d.ok);
      if (!result.databases.length) result.error = "the server has no databases to dump";
    }
    result.removed = await applyRetention(job, dir, now());
    if (job.copy_to) {
      result.removed.push(...await applyRetention(job, `${job.copy_to}/${job.name}`, now()));
    }
  } catch (err) {
    result.error = errorMessage(err);
    result.ok = false;
  } finally {
    result.duration_ms = Math.round(performance.now() - t0);
    await record(dir, result).catch((err) =>
      o.logger?.error("backup state not saved", { job: job.name, err: errorMessage(err) })
    );
    await release();
  }
  return result;
}

async function databasesOf(job: BackupJob): Promise<string[] | { error: string }> {
  if (job.databases !== "all") return job.databases;
  const r = await runTool(queryCommand(job, undefined, listDatabasesSql(job.type)), {
    timeout: Math.min(job.timeout, 60_000),
  });
  if (!r.ok) return { error: `listing databases: ${r.error}` };
  return userDatabases(job.type, r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

async function backupOne(
  job: BackupJob,
  database: string,
  dir: string,
  started: number,
  logger?: Logger,
): Promise<DatabaseOutcome> {
  const dumped = await dumpDatabase(job, database, dir, started);
  if (!dumped.ok) {
    logger?.error("backup failed", { job: job.name, database, err: dumped.error });
    return { database, ok: false, error: dumped.error };
  }
  const out: DatabaseOutcome = {
    database,
    ok: true,
    file: dumped.path,
    size: dumped.manifest.size,
  };
  if (job.verify !== "none") {
    const check = job.verify === "restore"
      ? await verifyRestore(
        dumped.path,
        dumped.manifest,
        verifyEndpoint(job),
        job.timeout,
      )
      : await verifyStructure(dumped.path, dumped.manifest);
    out.verify = check.detail;
    const manifest: Manifest = {
      ...dumped.manifest,
      verify: {
        mode: job.verify,
        ok: check.ok,
        at: new Date().toISOString(),
        detail: check.detail,
      },
    };
    if (!check.ok) {
      // A dump that does not verify is not a backup: it goes, with its manifest.
      await Deno.remove(dumped.path).catch(() => {});
      await Deno.remove(`${dumped.path}.json`).catch(() => {});
      logger?.error("backup did not verify; removed", {
        job: job.name,
        database,
        err: check.detail,
      });
      return { database, ok: false, error: `verify ${job.verify}: ${check.detail}` };
    }
    await writeDurably(`${dumped.path}.json`, JSON.stringify(manifest, null, 2) + "\n");
  }
  if (job.copy_to) {
    const copied = await copyDump(dumped.path, `${job.copy_to}/${job.name}`);
    if (copied) {
      logger?.error("backup not copied to copy_to", { job: job.name, database, err: copied });
      return { ...out, ok: false, error: `copy_to: ${copied}` };
    }
  }
  logger?.info("backup done", {
    job: job.name,
    database,
    file: dumped.path,
    size: dumped.manifest.size,
    ms: dumped.manifest.duration_ms,
  });
  return out;
}

/** Copy a dump and its manifest into `dir` (each whole, fsynced, then named); an error text, or undefined. */
async function copyDump(path: string, dir: string): Promise<string | undefined> {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const target = `${dir}/${name}`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.copyFile(path, `${target}.partial`);
    const f = await Deno.open(`${target}.partial`, { read: true, write: true });
    try {
      await f.syncData();
    } finally {
      f.close();
    }
    await writeDurably(`${target}.json`, await Deno.readTextFile(`${path}.json`));
    await Deno.rename(`${target}.partial`, target);
    await syncDir(dir);
    return undefined;
  } catch (err) {
    await Deno.remove(`${target}.partial`).catch(() => {});
    await Deno.remove(`${target}.json`).catch(() => {});
    return errorMessage(err);
  }
}

async function applyRetention(job: BackupJob, dir: string, now: number): Promise<string[]> {
  const dumps: DumpFile[] = await listDumps(dir);
  const plan = planRetention(dumps, job.retention, now);
  const removed: string[] = [];
  for (const { dump } of plan.remove) {
    await Deno.remove(`${dump.path}.json`).catch(() => {});
    await Deno.remove(dump.path).catch(() => {});
    removed.push(dump.path);
  }
  return removed;
}

async function record(dir: string, r: JobRunResult): Promise<void> {
  const state = await readState(dir);
  const finished = r.started_at + r.duration_ms;
  const files = r.databases.flatMap((d) => d.file ? [d.file] : []);
  const error = r.error ?? r.databases.find((d) => !d.ok)?.error;
  state.last_run = { started_at: r.started_at, finished_at: finished, ok: r.ok, files };
  if (error) state.last_run.error = error;
  if (r.ok) {
    state.last_success = {
      at: finished,
      duration_ms: r.duration_ms,
      size: r.databases.reduce((n, d) => n + (d.size ?? 0), 0),
      files,
    };
  } else {
    state.failures = (state.failures ?? 0) + 1;
  }
  await writeState(dir, state);
}
