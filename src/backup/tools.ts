/**
 * The command lines of the engines' own tools: dump (`pg_dump`,
 * `mysqldump`/`mariadb-dump`), list databases, load a dump, run a query;
 * run on this host or, for a `docker:` job, inside the container with
 * `docker exec -i`. A password travels in the environment (`PGPASSWORD`,
 * `MYSQL_PWD`; `docker exec -e NAME` copies it from the docker client's
 * environment), never in an argument.
 *
 * @module
 */

import { type BackupAccess, type BackupType, DEFAULT_PORT, urlParts } from "../config/backups.ts";

/** Where a tool connects and as whom: a job's server, or a restore's target. */
export interface Endpoint {
  type: BackupType;
  access: BackupAccess;
  user: string;
  password: string;
  tool?: string;
}

/** A command to spawn. */
export interface ToolCommand {
  cmd: string;
  args: string[];
  env: Record<string, string>;
}

/** Databases `all` never includes (MySQL's own schemas). */
const MYSQL_SYSTEM = new Set(["information_schema", "performance_schema", "sys", "mysql"]);

/** An endpoint from a URL (`backup restore --to`, `verify_url`). */
export function endpointFromUrl(text: string): { endpoint: Endpoint; database?: string } {
  const url = new URL(text);
  const type: BackupType = url.protocol.startsWith("postgres") ? "postgres" : "mysql";
  const p = urlParts(url, type);
  return {
    endpoint: {
      type,
      access: { kind: "url", host: p.host, port: p.port, socket: p.socket },
      user: p.user ?? (type === "mysql" ? "root" : ""),
      password: p.password ?? "",
    },
    database: p.database,
  };
}

/** Where a job's `restore` verification loads its dumps: `verify_url`, else the job's own server. */
export function verifyEndpoint(job: Endpoint & { verify_url?: string }): Endpoint {
  return job.verify_url ? { ...endpointFromUrl(job.verify_url).endpoint, tool: job.tool } : job;
}

/** The dump of one database, plain SQL on stdout. */
export function dumpCommand(e: Endpoint, database: string): ToolCommand {
  if (e.type === "postgres") {
    return wrap(e, e.tool ?? "pg_dump", [...pgConn(e), "--no-password", database]);
  }
  const tool = e.tool ?? mysqlTool(e, ["mysqldump", "mariadb-dump"]);
  return wrap(e, tool, [
    ...myConn(e),
    "--single-transaction",
    "--quick",
    "--routines",
    "--triggers",
    "--default-character-set=utf8mb4",
    database,
  ]);
}

/** A query whose rows come out one per line, fields tab-separated, no header. */
export function queryCommand(e: Endpoint, database: string | undefined, sql: string): ToolCommand {
  if (e.type === "postgres") {
    return wrap(e, "psql", [
      ...pgConn(e),
      "--no-password",
      "-X",
      "-A",
      "-t",
      "-F",
      "\t",
      "-v",
      "ON_ERROR_STOP=1",
      "-d",
      database ?? "postgres",
      "-c",
      sql,
    ]);
  }
  const args = [...myConn(e), "-N", "-B", "-e", sql];
  if (database) args.push(database);
  return wrap(e, mysqlTool(e, ["mysql", "mariadb"]), args);
}

/** Load SQL from stdin into `database`, stopping at the first error. */
export function loadCommand(e: Endpoint, database: string): ToolCommand {
  if (e.type === "postgres") {
    return wrap(e, "psql", [
      ...pgConn(e),
      "--no-password",
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "--single-transaction",
      "-d",
      database,
    ]);
  }
  return wrap(e, mysqlTool(e, ["mysql", "mariadb"]), [...myConn(e), database]);
}

/** The databases `databases: all` means on this server. */
export function listDatabasesSql(type: BackupType): string {
  return type === "postgres"
    ? "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
    : "SHOW DATABASES";
}

/** Drop MySQL's own schemas from a `SHOW DATABASES` answer. */
export function userDatabases(type: BackupType, names: string[]): string[] {
  return type === "mysql" ? names.filter((n) => !MYSQL_SYSTEM.has(n)) : names;
}

/** A table name as a dump writes it, quoted for a query. */
export function countSql(type: BackupType, tables: string[]): string {
  return tables.map((t) => `SELECT ${quoteLiteral(type, t)}, COUNT(*) FROM ${t}`).join(
    " UNION ALL ",
  );
}

/** An identifier quoted for `CREATE DATABASE` / `DROP DATABASE`. */
export function quoteIdent(type: BackupType, name: string): string {
  return type === "postgres"
    ? `"${name.replaceAll('"', '""')}"`
    : `\`${name.replaceAll("`", "``")}\``;
}

function quoteLiteral(type: BackupType, text: string): string {
  const q = `'${text.replaceAll("'", "''")}'`;
  return type === "mysql" ? q.replaceAll("\\", "\\\\") : q;
}

function pgConn(e: Endpoint): string[] {
  const a = e.access;
  const args: string[] = [];
  const host = a.kind === "url" ? (a.socket ?? a.host) : a.host;
  if (host) args.push("-h", host);
  if (a.port !== undefined) args.push("-p", String(a.port));
  else if (a.kind === "url" && !a.socket) args.push("-p", String(DEFAULT_PORT.postgres));
  if (e.user) args.push("-U", e.user);
  return args;
}

function myConn(e: Endpoint): string[] {
  const a = e.access;
  const args: string[] = [];
  if (a.kind === "url" && a.socket) args.push(`--socket=${a.socket}`);
  else if (a.host) args.push("-h", a.host, "-P", String(a.port ?? DEFAULT_PORT.mysql));
  if (e.user) args.push("-u", e.user);
  return args;
}

function passwordEnv(e: Endpoint): Record<string, string> {
  if (!e.password) return {};
  return e.type === "postgres" ? { PGPASSWORD: e.password } : { MYSQL_PWD: e.password };
}

function wrap(e: Endpoint, tool: string, args: string[]): ToolCommand {
  const env = passwordEnv(e);
  if (e.access.kind !== "docker") return { cmd: tool, args, env };
  const pass = Object.keys(env).flatMap((k) => ["-e", k]);
  return { cmd: "docker", args: ["exec", "-i", ...pass, e.access.container, tool, ...args], env };
}

/** The first of `names` on this host's PATH (the first, inside a container). */
function mysqlTool(e: Endpoint, names: string[]): string {
  if (e.access.kind === "docker") return names[0];
  return names.find(onPath) ?? names[0];
}

function onPath(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}
