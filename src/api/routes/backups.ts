/**
 * The backup routes:
 * - `GET /api/v1/backups`: each job's schedule, next run, last run, last
 *   success, failures and finished dumps (with manifests' size, sha256 and
 *   verification);
 * - `POST /api/v1/backups/{job}/run` (write token): run a job now; answers
 *   when the run has ended, with its outcome.
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../env.ts";
import type { BackupJobs } from "../../backup/jobs.ts";

/** What the backup routes read: the jobs, when `backups:` has entries. */
export interface BackupRoutesDeps {
  backups: () => BackupJobs | undefined;
}

const iso = (ms: number | undefined) => ms === undefined ? undefined : new Date(ms).toISOString();

/** The backup routes. */
export function backupRoutes(deps: BackupRoutesDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/api/v1/backups", async (c) => {
    const jobs = deps.backups();
    if (!jobs) return c.json({ jobs: [] });
    // An explicit ask reads the disk now (runs by `backup now` included).
    await jobs.refresh();
    const out = [];
    for (const v of jobs.views()) {
      const s = v.state;
      out.push({
        name: v.name,
        type: v.type,
        schedule: v.schedule,
        next_run: iso(v.next_run),
        running: v.running,
        last_run: s.last_run
          ? {
            ...s.last_run,
            started_at: iso(s.last_run.started_at),
            finished_at: iso(s.last_run.finished_at),
          }
          : undefined,
        last_success: s.last_success
          ? { ...s.last_success, at: iso(s.last_success.at) }
          : undefined,
        failures: s.failures ?? 0,
        dumps: v.dumps,
        bytes: v.bytes,
        files: jobs.files(v.name) ?? [],
      });
    }
    return c.json({ jobs: out });
  });
  app.post("/api/v1/backups/:job/run", async (c) => {
    const jobs = deps.backups();
    const name = c.req.param("job");
    const run = jobs?.runNow(name);
    if (!run) throw new HTTPException(404, { message: `no backup job named ${name}` });
    const r = await run;
    return c.json(r, r.ok ? 200 : 500);
  });
  return app;
}
