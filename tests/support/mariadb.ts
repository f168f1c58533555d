/**
 * A real MariaDB for tests: a throwaway server on loopback, started from the
 * Debian `mariadb-server` binaries (`mariadb-install-db`, `mariadbd`, the
 * `mariadb` client), with a user that has every privilege and a password
 * holding special characters. Removed, data and all, on dispose.
 *
 *   await using db = await startMariadb();
 *   await db.rootQuery("CREATE DATABASE shop");
 *   db.url("shop"); // mysql://bk:S3cret%21pw%231@127.0.0.1:PORT/shop
 */

import { type Availability, freePort, which } from "./servers.ts";

/** The user {@linkcode startMariadb} creates, with ALL PRIVILEGES. */
export const MARIADB_USER = "bk";
/** Its password (special characters on purpose: URL-encoding and shell quoting matter). */
export const MARIADB_PASSWORD = "S3cret!pw#1";

/** Where the MariaDB binaries are. */
export interface MariadbBin {
  /** The server, `mariadbd`. */
  server: string;
  installDb: string;
  /** The client, `mariadb`. */
  client: string;
}

/** The MariaDB binaries, or why the tests that need them are skipped. */
export function locateMariadb(): Availability<MariadbBin> {
  const sbin = ["/usr/sbin", "/usr/local/sbin", "/usr/libexec"];
  const server = which("mariadbd", sbin);
  const installDb = which("mariadb-install-db", sbin);
  const client = which("mariadb");
  if (!server || !installDb || !client) {
    const missing = [
      server ? "" : "mariadbd",
      installDb ? "" : "mariadb-install-db",
      client ? "" : "mariadb",
    ].filter(Boolean);
    return {
      ok: false,
      reason: `no MariaDB (${missing.join(", ")} not found): install mariadb-server`,
    };
  }
  return { ok: true, value: { server, installDb, client } };
}

/** A running throwaway server. */
export interface MariadbServer {
  /** Its TCP port on 127.0.0.1. */
  port: number;
  /** Its Unix socket (root connects through it, without a password). */
  socket: string;
  /** Its directory (data, socket, error log). */
  dir: string;
  bin: MariadbBin;
  user: string;
  password: string;
  /** `mysql://USER:PASSWORD@127.0.0.1:PORT/db`, the password URL-encoded. */
  url(db?: string): string;
  /**
   * Run SQL (one or more statements, fed on stdin so nothing lands in an
   * argv) as root; the rows of the last result set, fields split on tabs,
   * in the client's batch escaping (`\t`, `\n`, `\\`, NULL as `NULL`).
   */
  rootQuery(sql: string, db?: string): Promise<string[][]>;
  /** The client's arguments for a root session (`--no-defaults`, utf8mb4, the socket). */
  rootArgs(): string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for {@linkcode startMariadb}. */
export interface MariadbOptions {
  /** The binaries (default: {@linkcode locateMariadb}'s). */
  bin?: MariadbBin;
  /** The password of the user created (default {@linkcode MARIADB_PASSWORD}). */
  password?: string;
}

const dec = new TextDecoder();

/** Start a throwaway server on a free loopback port; ready (and the user created) when it resolves. */
export async function startMariadb(o: MariadbOptions = {}): Promise<MariadbServer> {
  let bin = o.bin;
  if (!bin) {
    const found = locateMariadb();
    if (!found.ok) throw new Error(found.reason);
    bin = found.value;
  }
  const password = o.password ?? MARIADB_PASSWORD;
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-mariadb-" });
  const asRoot = Deno.uid() === 0 ? ["--user=root"] : [];
  const socket = `${dir}/sock`;
  const rootArgs = () => [
    "--no-defaults",
    "--default-character-set=utf8mb4",
    "-uroot",
    `--socket=${socket}`,
  ];
  let child: Deno.ChildProcess | undefined;
  const stop = async () => {
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          child?.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 15_000);
      await child.status;
      clearTimeout(killer);
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const install = await new Deno.Command(bin.installDb, {
      args: [
        "--no-defaults",
        `--datadir=${dir}/data`,
        ...asRoot,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!install.success) {
      throw new Error(
        `mariadb-install-db failed: ${dec.decode(install.stderr)}${dec.decode(install.stdout)}`,
      );
    }
    const port = freePort();
    child = new Deno.Command(bin.server, {
      args: [
        "--no-defaults",
        `--datadir=${dir}/data`,
        ...asRoot,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--socket=${socket}`,
        `--pid-file=${dir}/pid`,
        `--log-error=${dir}/err.log`,
        "--skip-log-bin",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=32M",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited: Deno.CommandStatus | undefined;
    child.status.then((s) => exited = s);
    const query = (sql: string, db?: string) => clientQuery(bin, rootArgs(), sql, db);
    const until = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`mariadbd exited with ${exited.code}`);
      try {
        await query("SELECT 1");
        break;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const lit = `'${password.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
    await query(
      `CREATE USER '${MARIADB_USER}'@'%' IDENTIFIED BY ${lit};\n` +
        `GRANT ALL PRIVILEGES ON *.* TO '${MARIADB_USER}'@'%' WITH GRANT OPTION;\n`,
    );
    return {
      port,
      socket,
      dir,
      bin,
      user: MARIADB_USER,
      password,
      url: (db = "") =>
        `mysql://${MARIADB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`,
      rootQuery: query,
      rootArgs,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    const log = await Deno.readTextFile(`${dir}/err.log`).catch(() => "");
    await stop();
    throw new Error(`MariaDB did not start: ${(err as Error).message}\n${log}`);
  }
}

async function clientQuery(
  bin: MariadbBin,
  args: string[],
  sql: string,
  db?: string,
): Promise<string[][]> {
  const child = new Deno.Command(bin.client, {
    args: [...args, "-N", "-B", ...(db ? [db] : [])],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  // A client that could not connect may be gone before it read its input: its exit says why.
  await w.write(new TextEncoder().encode(sql)).then(() => w.close()).catch(() => {});
  const out = await child.output();
  if (!out.success) throw new Error(`mariadb: ${dec.decode(out.stderr).trim()}`);
  return dec.decode(out.stdout).split("\n").filter((l) => l).map((l) => l.split("\t"));
}
