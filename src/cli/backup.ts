/**
 * `astron-watch backup now|list|verify|restore`: run a job now, list the
 * dumps kept, check a dump, load a dump into a database.
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import type { BackupJob } from "../config/backups.ts";
import type { Config } from "../config/schema.ts";
import { formatSize } from "../housekeeping/plan.ts";
import { textTable } from "../text_table.ts";
import { type Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE = `usage: astron-watch backup now JOB [--config FILE] [--json]
       astron-watch backup list [JOB] [--config FILE] [--json]
       astron-watch backup verify FILE [--restore] [--config FILE]
       astron-watch backup restore FILE --to URL [--yes]

now      runs the backups: job JOB once, now, as its schedule would: each
         database dumped to DIR/JOB/YYYYMMDDTHHMMSSZ-DB.sql.gz (streamed, gzip),
         renamed from .partial only when the tool exited 0, the dump ended with
         its completion marker and the file is fsynced; then verified (the
         job's verify), copied (copy_to) and retention applied. A run of the
         same job in progress (the agent's) makes it fail, naming its pid.
list     the finished dumps of every job (or JOB), newest first, with size,
         verification and the job's last run.
verify   FILE's sha256 against its manifest (FILE.json), its gzip stream, its
         completion marker and its rows per table; --restore also loads it into
         a scratch database (astron_watch_verify_...) on the job's server (or its
         verify_url), compares row counts and drops it.
restore  loads FILE into the database the URL names (postgres://... or
         mysql://...; the dump's own database name when the URL names none),
         creating it when missing and refusing one that already holds tables.
         Prints what it would do; acts only with --yes. The password in the
         URL reaches the tool through PGPASSWORD / MYSQL_PWD, never its argv.

options:
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present)
  --json              print JSON
  --restore           verify by restoring into a scratch database
  --to URL            the database to restore into
  --yes               act (restore)
  -h, --help          show this help

Exit codes: 0 ok, 1 the run, verification or restore failed, 2 usage or config error.
`;

/** The `backup` command. */
export const backupCommand: Command = {
  name: "backup",
  summary: "database backups: now JOB, list, verify FILE, restore FILE --to URL",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      config: { type: "string", short: "c" },
      json: { type: "boolean" },
      restore: { type: "boolean" },
      to: { type: "string" },
      yes: { type: "boolean" },
    }, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [action, arg, extra] = positionals;
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    switch (action) {
      case "now":
        if (!arg) throw new UsageError("backup now needs a JOB");
        return await now(arg, values);
      case "list":
        return await list(arg, values);
      case "verify":
        if (!arg) throw new UsageError("backup verify needs a FILE");
        return await verify(arg, values);
      case "restore":
        if (!arg) throw new UsageError("backup restore needs a FILE");
        if (!values.to) throw new UsageError("backup restore needs --to URL");
        return await restore(arg, values.to, !!values.yes);
      case undefined:
        throw new UsageError("backup needs one of: now, list, verify, restore");
      default:
        throw new UsageError(`unknown backup action "${action}" (now, list, verify, restore)`);
    }
  },
};

interface Flags {
  config?: string;
  json?: boolean;
  restore?: boolean;
}

async function config(path: string | undefined): Promise<Config | undefined> {
  const loaded = await loadConfig({ path });
  if (!loaded.ok) {
    for (const p of loaded.problems) err(formatProblem(p));
    return undefined;
  }
  return loaded.config;
}

function findJob(c: Config, name: string): BackupJob | undefined {
  const job = c.backups.find((j) => j.name === name);
  if (!job) {
    const names = c.backups.map((j) => j.name);
    err(
      `astron-watch backup: no job named ${name} (${
        names.length ? names.join(", ") : "the config has no backups: entries"
      })`,
    );
  }
  return job;
}

async function now(name: string, f: Flags): Promise<number> {
  const c = await config(f.config);
  if (!c) return EXIT.usage;
  const job = findJob(c, name);
  if (!job) return EXIT.usage;
  const { runJob } = await import("../backup/run.ts");
  const r = await runJob(job);
  if (f.json) {
    out(JSON.stringify(r, null, 2) + "\n");
  } else {
    for (const d of r.databases) {
      out(
        d.ok
          ? `${d.database}: ${d.file} (${formatSize(d.size ?? 0)})${
            d.verify ? `, verified: ${d.verify}` : ""
          }\n`
          : `${d.database}: FAILED: ${d.error}\n`,
      );
    }
    for (const file of r.removed) out(`removed by retention: ${file}\n`);
    out(`${job.name}: ${r.ok ? "ok" : "FAILED"} in ${(r.duration_ms / 1000).toFixed(1)}s\n`);
  }
  if (r.error) err(`astron-watch backup: ${r.error}`);
  return r.ok ? EXIT.ok : EXIT.failure;
}

async function list(name: string | undefined, f: Flags): Promise<number> {
  const c = await config(f.config);
  if (!c) return EXIT.usage;
  const jobs = name ? [findJob(c, name)] : c.backups;
  if (jobs.some((j) => !j)) return EXIT.usage;
  const { listDumps, readState } = await import("../backup/files.ts");
  const { jobDir } = await import("../backup/run.ts");
  const all = [];
  for (const job of jobs as BackupJob[]) {
    const dir = jobDir(job);
    all.push({ job: job.name, dir, state: await readState(dir), dumps: await listDumps(dir) });
  }
  if (f.json) {
    out(JSON.stringify(all.map((j) => ({ ...j, dumps: j.dumps.map((d) => d.manifest) })), null, 2));
    out("\n");
    return EXIT.ok;
  }
  for (const j of all) {
    const last = j.state.last_run;
    out(
      `${j.job} (${j.dir}): ${j.dumps.length} dumps` +
        (last
          ? `, last run ${new Date(last.started_at).toISOString()} ${
            last.ok ? "ok" : `FAILED: ${last.error}`
          }`
          : ", never run") +
        "\n",
    );
    if (j.dumps.length) {
      out(textTable(
        ["FILE", "DATABASE", "SIZE", "VERIFIED"],
        j.dumps.map((d) => [
          d.manifest.file,
          d.database,
          formatSize(d.manifest.size),
          d.manifest.verify
            ? `${d.manifest.verify.mode} ${d.manifest.verify.ok ? "ok" : "FAILED"}`
            : "-",
        ]),
      ));
    }
  }
  if (!all.length) err("astron-watch backup: the config has no backups: entries");
  return EXIT.ok;
}

async function verify(file: string, f: Flags): Promise<number> {
  const { readManifest } = await import("../backup/files.ts");
  const { verifyStructure, verifyRestore } = await import("../backup/verify.ts");
  const manifest = await readManifest(file);
  if (!manifest) {
    err(`astron-watch backup: ${file}.json (the manifest) is missing: checking the dump alone`);
  }
  const s = await verifyStructure(file, manifest);
  out(`structure: ${s.ok ? "ok" : "FAILED"}: ${s.detail}\n`);
  if (!s.ok) return EXIT.failure;
  if (!f.restore) return EXIT.ok;
  if (!manifest) {
    err("astron-watch backup: --restore needs the manifest (which job and server)");
    return EXIT.failure;
  }
  const c = await config(f.config);
  if (!c) return EXIT.usage;
  const job = findJob(c, manifest.job);
  if (!job) return EXIT.usage;
  const { verifyEndpoint } = await import("../backup/tools.ts");
  const r = await verifyRestore(file, manifest, verifyEndpoint(job), job.timeout);
  out(`restore: ${r.ok ? "ok" : "FAILED"}: ${r.detail}\n`);
  return r.ok ? EXIT.ok : EXIT.failure;
}

async function restore(file: string, to: string, yes: boolean): Promise<number> {
  const { readManifest } = await import("../backup/files.ts");
  const { endpointFromUrl } = await import("../backup/tools.ts");
  let target: ReturnType<typeof endpointFromUrl>;
  try {
    target = endpointFromUrl(to);
    if (!/^(postgres|postgresql|mysql|mariadb):$/.test(new URL(to).protocol)) throw new Error();
  } catch {
    throw new UsageError(
      `--to: ${to.replace(/:[^:@/]*@/, ":***@")} is not a postgres:// or mysql:// URL`,
    );
  }
  const manifest = await readManifest(file);
  if (manifest && manifest.type !== target.endpoint.type) {
    err(`astron-watch backup: ${file} is a ${manifest.type} dump; --to is ${target.endpoint.type}`);
    return EXIT.usage;
  }
  const database = target.database ?? manifest?.database;
  if (!database) throw new UsageError("--to must name the database (the dump has no manifest)");
  const a = target.endpoint.access;
  const where = a.kind === "url"
    ? (a.socket ?? `${a.host}:${a.port ?? "default port"}`)
    : a.container;
  const rows = manifest ? Object.values(manifest.tables).reduce((n, v) => n + v, 0) : undefined;
  out(
    `restore ${file}` +
      (manifest
        ? ` (${manifest.type} ${manifest.database}, ${
          Object.keys(manifest.tables).length
        } tables, ${rows} rows, dumped ${manifest.created})`
        : "") +
      `\n   into database ${database} on ${where} as ${
        target.endpoint.user || "the default user"
      }` +
      " (created when missing; refused when it holds tables)\n",
  );
  if (!yes) {
    out("nothing done: add --yes to restore\n");
    return EXIT.ok;
  }
  const { restoreDump } = await import("../backup/verify.ts");
  const r = await restoreDump(file, target.endpoint, database, { timeout: 24 * 3_600_000 });
  out(`${r.ok ? "restored" : "FAILED"}: ${r.detail}\n`);
  return r.ok ? EXIT.ok : EXIT.failure;
}
