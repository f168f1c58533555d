/**
 * The `backups:` section (issue 14): the platform's MySQL and PostgreSQL
 * dumped on a schedule, verified, kept and watched. Each job reaches its
 * server by `url` or by `docker: CONTAINER` (the dump tool runs inside the
 * container, as the platform's guide does); the password goes to the tool
 * through its environment (`PGPASSWORD`, `MYSQL_PWD`), never its argv.
 *
 * ```yaml
 * backups:
 *   - name: agent-mysql
 *     type: mysql
 *     docker: astron-agent-mysql        # or url: mysql://root:${PW}@127.0.0.1:3306
 *     user: root
 *     password: ${MYSQL_ROOT_PASSWORD}
 *     databases: [agent]                # or all
 *     schedule: "0 3 * * *"             # or every: 6h
 *     dir: /var/lib/astron-watch/backups
 *     compress: gzip                    # or none
 *     retention: { keep_last: 7, keep_daily: 14, keep_weekly: 8, max_age: 90d, keep_min: 3 }
 *     verify: structure                 # or restore (verify_url: another server)
 *     timeout: 6h
 *     copy_to: /mnt/offsite/backups
 * ```
 *
 * @module
 */

import { Cron } from "croner";
import { type ConfigReader, show } from "./reader.ts";

/** A database engine a job dumps. */
export type BackupType = "postgres" | "mysql";

/** How the dump tools reach the server. */
export type BackupAccess =
  | {
    kind: "url";
    host: string;
    port?: number;
    /** A Unix socket directory (PostgreSQL `?host=/run/postgresql`) or file (MySQL `?socket=`). */
    socket?: string;
  }
  | { kind: "docker"; container: string; host?: string; port?: number };

/** When a job runs: a cron expression (host's local time) or a fixed interval. */
export type BackupSchedule =
  | { kind: "cron"; expr: string }
  | { kind: "every"; ms: number }
  | { kind: "manual" };

/** Which dumps a job keeps; see `src/backup/retention.ts`. */
export interface RetentionConfig {
  keep_last: number;
  keep_daily: number;
  keep_weekly: number;
  /** Dumps older than this go, ms (0: no limit). */
  max_age: number;
  /** Never fewer than this many dumps per database, newest first. */
  keep_min: number;
}

/** One entry of `backups`. */
export interface BackupJob {
  name: string;
  type: BackupType;
  access: BackupAccess;
  user: string;
  password: string;
  /** Databases dumped, one file each; `"all"` lists the server's at each run. */
  databases: string[] | "all";
  schedule: BackupSchedule;
  dir: string;
  compress: boolean;
  retention: RetentionConfig;
  verify: "none" | "structure" | "restore";
  /** The server a `restore` verification loads into (default: the job's own). */
  verify_url?: string;
  /** Longest one database's dump may take, ms. */
  timeout: number;
  copy_to?: string;
  /** The dump tool's name (default `pg_dump`; `mysqldump`, or `mariadb-dump` where only it exists). */
  tool?: string;
}

const KEYS = [
  "name",
  "type",
  "url",
  "docker",
  "host",
  "port",
  "user",
  "password",
  "databases",
  "schedule",
  "every",
  "dir",
  "compress",
  "retention",
  "verify",
  "verify_url",
  "timeout",
  "copy_to",
  "tool",
] as const;
const RETENTION_KEYS = ["keep_last", "keep_daily", "keep_weekly", "max_age", "keep_min"] as const;

/** The default port of each engine. */
export const DEFAULT_PORT: Record<BackupType, number> = { postgres: 5432, mysql: 3306 };

/** Validate `backups:`; every problem goes to `r`. */
export function readBackups(r: ConfigReader, value: unknown): BackupJob[] {
  const out: BackupJob[] = [];
  const names = new Set<string>();
  (r.list(value, "backups") ?? []).forEach((item, i) => {
    const at = `backups[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      r.fail(at, `expected a mapping with name, type, url or docker, and dir, got ${show(item)}`);
      return;
    }
    const o = r.object(item, at, KEYS);
    const name = r.string(o.name, `${at}.name`, "");
    if (!name) r.fail(`${at}.name`, "is required");
    else if (r.name(name, `${at}.name`)) {
      if (names.has(name)) r.fail(`${at}.name`, `${show(name)} is used by another job`);
      names.add(name);
    }
    if (o.type === undefined) r.fail(`${at}.type`, "is required (postgres | mysql)");
    const type = r.oneOf(o.type, `${at}.type`, ["postgres", "mysql"] as const, "postgres");
    const fromUrl = readUrl(r, o.url, `${at}.url`, type);
    if (o.url !== undefined && o.docker !== undefined) {
      r.fail(at, "set url or docker, not both");
    } else if (o.url === undefined && o.docker === undefined) {
      r.fail(at, "needs url (postgres://... or mysql://...) or docker (a container name)");
    }
    const port = o.port === undefined ? undefined : r.integer(o.port, `${at}.port`, 0, 1, 65535);
    const host = o.host === undefined ? undefined : r.string(o.host, `${at}.host`, "");
    let access: BackupAccess;
    if (o.docker !== undefined) {
      const container = r.string(o.docker, `${at}.docker`, "");
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(container)) {
        r.fail(`${at}.docker`, `${show(o.docker)} is not a container name`);
      }
      access = { kind: "docker", container, host, port };
    } else {
      access = {
        kind: "url",
        host: host ?? fromUrl?.host ?? "127.0.0.1",
        port: port ?? fromUrl?.port,
        socket: fromUrl?.socket,
      };
    }
    const user = r.string(o.user, `${at}.user`, fromUrl?.user ?? (type === "mysql" ? "root" : ""));
    const password = r.string(o.password, `${at}.password`, fromUrl?.password ?? "");
    // A url that does not parse has its own problem; its database is not asked for again.
    const urlDb = fromUrl?.database ?? (o.url !== undefined && !fromUrl ? "-" : undefined);
    const databases = readDatabases(r, o.databases, `${at}.databases`, urlDb);
    const dir = r.string(o.dir, `${at}.dir`, "").replace(/(.)\/+$/, "$1");
    if (!dir) r.fail(`${at}.dir`, "is required (the directory dumps are written to)");
    const verify = r.oneOf(
      o.verify,
      `${at}.verify`,
      ["none", "structure", "restore"] as const,
      "structure",
    );
    let verify_url: string | undefined;
    if (o.verify_url !== undefined) {
      const u = readUrl(r, o.verify_url, `${at}.verify_url`, type);
      if (u) verify_url = r.string(o.verify_url, `${at}.verify_url`, "");
    }
    const copy_to = o.copy_to === undefined
      ? undefined
      : r.string(o.copy_to, `${at}.copy_to`, "").replace(/(.)\/+$/, "$1");
    if (copy_to !== undefined && !copy_to) r.fail(`${at}.copy_to`, "is empty");
    if (copy_to && copy_to === dir) r.fail(`${at}.copy_to`, "is the same directory as dir");
    const tool = o.tool === undefined ? undefined : r.string(o.tool, `${at}.tool`, "");
    if (tool !== undefined && !/^[A-Za-z0-9_./-]+$/.test(tool)) {
      r.fail(`${at}.tool`, `${show(tool)} is not a command name`);
    }
    out.push({
      name,
      type,
      access,
      user,
      password,
      databases,
      schedule: readSchedule(r, o.schedule, o.every, at),
      dir,
      compress: readCompress(r, o.compress, `${at}.compress`),
      retention: readRetention(r, o.retention, `${at}.retention`),
      verify,
      verify_url,
      timeout: r.duration(o.timeout, `${at}.timeout`, 6 * 3_600_000, 1_000),
      copy_to,
      tool,
    });
  });
  return out;
}

/** A database URL taken apart. */
export interface UrlParts {
  host: string;
  port?: number;
  socket?: string;
  user?: string;
  password?: string;
  database?: string;
}

/** `postgres://user:pw@host:port/db` or `mysql://user:pw@host:port/db`, taken apart. */
function readUrl(
  r: ConfigReader,
  value: unknown,
  path: string,
  type: BackupType,
): UrlParts | undefined {
  if (value === undefined) return undefined;
  const schemes = type === "postgres" ? ["postgres:", "postgresql:"] : ["mysql:", "mariadb:"];
  const url = r.url(value, path, schemes);
  return url && urlParts(url, type);
}

/** The parts of a `postgres://` or `mysql://` URL (a socket from `?host=` or `?socket=`). */
export function urlParts(url: URL, type: BackupType): UrlParts {
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: url.port ? Number(url.port) : undefined,
    socket: url.searchParams.get(type === "postgres" ? "host" : "socket") ?? undefined,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
  };
}

function readDatabases(
  r: ConfigReader,
  value: unknown,
  path: string,
  fromUrl: string | undefined,
): string[] | "all" {
  if (value === "all") return "all";
  const list = value === undefined
    ? (fromUrl ? [fromUrl] : undefined)
    : typeof value === "string"
    ? [value]
    : r.list(value, path)?.map((v, i) => r.string(v, `${path}[${i}]`, ""));
  if (!list?.length) {
    r.fail(path, "is required (a database, a list, or all) unless the url names one");
    return [];
  }
  for (const [i, db] of list.entries()) {
    if (!/^[A-Za-z0-9_$-]{1,64}$/.test(db)) {
      r.fail(`${path}[${i}]`, `${show(db)} is not a database name`);
    }
  }
  return [...new Set(list)];
}

function readSchedule(
  r: ConfigReader,
  schedule: unknown,
  every: unknown,
  at: string,
): BackupSchedule {
  if (schedule !== undefined && every !== undefined) {
    r.fail(at, "set schedule or every, not both");
  }
  if (every !== undefined) {
    return { kind: "every", ms: r.duration(every, `${at}.every`, 86_400_000, 1_000) };
  }
  if (schedule === undefined) return { kind: "manual" };
  const expr = r.string(schedule, `${at}.schedule`, "");
  try {
    new Cron(expr, { paused: true });
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, "") : String(err);
    r.fail(`${at}.schedule`, `${show(expr)} is not a cron expression: ${why}`);
  }
  return { kind: "cron", expr };
}

function readCompress(r: ConfigReader, value: unknown, path: string): boolean {
  if (value === undefined || value === null || value === "gzip" || value === true) return true;
  if (value === "none" || value === false) return false;
  return r.fail(path, `${show(value)} is not one of gzip | none`) ?? true;
}

function readRetention(r: ConfigReader, value: unknown, path: string): RetentionConfig {
  const before = r.problems.length;
  const o = value === undefined ? {} : r.object(value, path, RETENTION_KEYS);
  const count = (v: unknown, key: string, fallback: number) =>
    r.integer(v, `${path}.${key}`, fallback, 0, 1_000_000);
  const out: RetentionConfig = {
    keep_last: count(o.keep_last, "keep_last", value === undefined ? 7 : 0),
    keep_daily: count(o.keep_daily, "keep_daily", 0),
    keep_weekly: count(o.keep_weekly, "keep_weekly", 0),
    max_age: r.duration(o.max_age, `${path}.max_age`, 0),
    keep_min: count(o.keep_min, "keep_min", 3),
  };
  if (
    value !== undefined && r.problems.length === before && !out.keep_last && !out.keep_daily &&
    !out.keep_weekly && !out.max_age
  ) {
    r.fail(path, "keeps everything: set keep_last, keep_daily, keep_weekly or max_age");
  }
  return out;
}
