/**
 * The agent's backup jobs: each runs on its schedule (a cron expression in
 * the host's time, or `every`), one job at a time; a run missed while the
 * agent was down runs at start. What `/status`, `GET /api/v1/backups`, the
 * metrics and the `backup_age` alert read comes from each job's
 * `state.json` and manifests, so runs made by `backup now` show too.
 *
 * @module
 */

import { Cron } from "croner";
import type { BackupJob, BackupSchedule } from "../config/backups.ts";
import { formatDuration } from "../config/units.ts";
import type { Logger } from "../log/logger.ts";
import { SerialLock } from "../serial_lock.ts";
import { type LongTimeout, setLongTimeout } from "../timers.ts";
import { errorMessage } from "../errors.ts";
import type { BackupAge } from "../alerts/conditions.ts";
import { type JobState, listDumps, readState } from "./files.ts";
import { jobDir, type JobRunResult, runJob } from "./run.ts";

/** A job as `/status`, the API and the alerts see it. */
export interface BackupJobView {
  name: string;
  type: string;
  schedule: string;
  next_run?: number;
  running: boolean;
  state: JobState;
  /** Finished dumps on disk. */
  dumps: number;
  /** Bytes they take. */
  bytes: number;
}

/** A dump as the API lists it. */
export interface BackupFileView {
  file: string;
  database: string;
  created: string;
  size: number;
  sha256: string;
  verify?: { mode: string; ok: boolean; at: string; detail: string };
}

/** The next run of a schedule after `from` (undefined: never). */
export function nextRun(s: BackupSchedule, from: number): number | undefined {
  if (s.kind === "manual") return undefined;
  if (s.kind === "every") return from + s.ms;
  return new Cron(s.expr, { paused: true }).nextRun(new Date(from))?.getTime();
}

/** A schedule for people: `0 3 * * *`, `every 6h`, `manual`. */
export function scheduleText(s: BackupSchedule): string {
  return s.kind === "cron"
    ? s.expr
    : s.kind === "every"
    ? `every ${formatDuration(s.ms)}`
    : "manual";
}

/** Options for {@linkcode BackupJobs}. */
export interface BackupJobsOptions {
  jobs: BackupJob[];
  logger: Logger;
  now?: () => number;
}

/** The scheduled jobs; see the module doc. */
export class BackupJobs {
  #jobs: BackupJob[];
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #lock = new SerialLock();
  readonly #timers = new Map<string, LongTimeout>();
  readonly #next = new Map<string, number>();
  readonly #running = new Set<string>();
  readonly #views = new Map<string, BackupJobView>();
  readonly #files = new Map<string, BackupFileView[]>();
  #stopped = false;
  readonly #since: number;
  #refresher?: ReturnType<typeof setInterval>;

  constructor(o: BackupJobsOptions) {
    this.#jobs = o.jobs;
    this.#log = o.logger;
    this.#now = o.now ?? Date.now;
    this.#since = this.#now();
  }

  /** Read each job's record and arm its schedule; re-read them every minute (for `backup now` runs). */
  async start(): Promise<void> {
    await this.refresh();
    for (const job of this.#jobs) this.#arm(job);
    this.#refresher = setInterval(() => {
      this.refresh().catch(() => {});
    }, 60_000);
  }

  /** Stop scheduling; a run in progress ends first. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#refresher);
    for (const t of this.#timers.values()) t.clear();
    this.#timers.clear();
    await this.#lock.idle();
  }

  /** Take new jobs: schedules re-armed, views rebuilt. */
  async reload(jobs: BackupJob[]): Promise<void> {
    for (const t of this.#timers.values()) t.clear();
    this.#timers.clear();
    this.#next.clear();
    this.#jobs = jobs;
    await this.refresh();
    for (const job of jobs) this.#arm(job);
  }

  /** Run a job now (queued behind a run in progress). */
  runNow(name: string): Promise<JobRunResult> | undefined {
    const job = this.#jobs.find((j) => j.name === name);
    return job ? this.#run(job) : undefined;
  }

  /** The jobs as last read (see {@linkcode refresh}). */
  views(): BackupJobView[] {
    return this.#jobs.map((j) =>
      this.#views.get(j.name) ?? {
        name: j.name,
        type: j.type,
        schedule: scheduleText(j.schedule),
        running: false,
        state: { failures: 0 },
        dumps: 0,
        bytes: 0,
      }
    ).map((v) => ({ ...v, running: this.#running.has(v.name), next_run: this.#next.get(v.name) }));
  }

  /** Each job's last good backup, or since when the agent has watched it without one (`backup_age`). */
  ages(): BackupAge[] {
    return this.views().map((v) => ({
      job: v.name,
      last_success: v.state.last_success?.at,
      since: this.#since,
    }));
  }

  /** The finished dumps of a job as last read, newest first. */
  files(name: string): BackupFileView[] | undefined {
    return this.#files.get(name);
  }

  /** Re-read every job's record and dumps (also what `backup now` did). */
  async refresh(): Promise<void> {
    for (const job of this.#jobs) {
      const dir = jobDir(job);
      try {
        const [state, dumps] = await Promise.all([readState(dir), listDumps(dir)]);
        this.#files.set(
          job.name,
          dumps.map((d) => ({
            file: d.path,
            database: d.database,
            created: d.manifest.created,
            size: d.manifest.size,
            sha256: d.manifest.sha256,
            verify: d.manifest.verify,
          })),
        );
        this.#views.set(job.name, {
          name: job.name,
          type: job.type,
          schedule: scheduleText(job.schedule),
          running: false,
          state,
          dumps: dumps.length,
          bytes: dumps.reduce((n, d) => n + d.manifest.size, 0),
        });
      } catch (err) {
        this.#log.warn("backup job directory not readable", {
          job: job.name,
          err: errorMessage(err),
        });
      }
    }
  }

  #arm(job: BackupJob): void {
    if (this.#stopped) return;
    const now = this.#now();
    const last = this.#views.get(job.name)?.state.last_run?.started_at;
    // A run due since the last one (missed while the agent was down) goes now.
    const dueSinceLast = last === undefined
      ? (job.schedule.kind === "every" ? now : undefined)
      : nextRun(job.schedule, last);
    let at = dueSinceLast !== undefined && dueSinceLast <= now ? now : nextRun(job.schedule, now);
    if (at === undefined) return;
    at = Math.max(at, now);
    this.#next.set(job.name, at);
    this.#timers.get(job.name)?.clear();
    this.#timers.set(
      job.name,
      setLongTimeout(() => {
        this.#timers.delete(job.name);
        this.#run(job).finally(() => {
          if (this.#jobs.includes(job)) this.#arm(job);
        });
      }, at - now),
    );
  }

  #run(job: BackupJob): Promise<JobRunResult> {
    return this.#lock.run(async () => {
      this.#running.add(job.name);
      try {
        const r = await runJob(job, { now: this.#now, logger: this.#log });
        if (r.error) this.#log.error("backup run failed", { job: job.name, err: r.error });
        return r;
      } finally {
        this.#running.delete(job.name);
        await this.refresh();
      }
    });
  }
}
