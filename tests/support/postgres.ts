/**
 * A real PostgreSQL for tests: `ASTRON_WATCH_TEST_PG_URL` when set (CI sets
 * it), else a throwaway cluster started on loopback from the `initdb` and
 * `pg_ctl` found on PATH or under /usr/lib/postgresql. Also a command line:
 *
 *   deno run -A tests/support/postgres.ts start DIR   # prints the URL
 *   deno run -A tests/support/postgres.ts stop DIR
 */

import postgres from "postgres";
import { type Availability, freePort, run, which } from "./servers.ts";

/** The variable naming an existing server for the tests. */
export const PG_URL_VAR = "ASTRON_WATCH_TEST_PG_URL";

/** How the tests will get a PostgreSQL. */
export type PgSource = { url: string } | { bin: string };

function pgBinDir(): string | undefined {
  const onPath = which("initdb");
  if (onPath && which("pg_ctl")) return onPath.slice(0, onPath.lastIndexOf("/"));
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name)
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (which("initdb", [dir]) && which("pg_ctl", [dir])) return dir;
    }
  } catch {
    // no Debian PostgreSQL
  }
  return undefined;
}

/** Where a PostgreSQL can come from, decided once per test module. */
export function locatePostgres(): Availability<PgSource> {
  const url = Deno.env.get(PG_URL_VAR);
  if (url) return { ok: true, value: { url } };
  const bin = pgBinDir();
  if (bin) return { ok: true, value: { bin } };
  return {
    ok: false,
    reason:
      `no PostgreSQL: set ${PG_URL_VAR}, or install it (apt-get install postgresql) so initdb is found`,
  };
}

/** A database the test owns, dropped (with its throwaway server) on dispose. */
export interface TestDatabase {
  url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** As root, PostgreSQL must run as its own user. */
function asPgUser(cmd: string, args: string[]): [string, string[]] {
  if (Deno.uid() !== 0) return [cmd, args];
  return ["runuser", ["-u", "postgres", "--", cmd, ...args]];
}

/** Start a throwaway cluster in `dir` on a free loopback port; returns its URL. */
export async function startCluster(bin: string, dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  if (Deno.uid() === 0) await run("chown", ["postgres:postgres", dir]);
  await run(
    ...asPgUser(`${bin}/initdb`, [
      "-D",
      dir,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-sync",
    ]),
  );
  const port = freePort();
  const opts =
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`;
  await run(
    ...asPgUser(`${bin}/pg_ctl`, ["-D", dir, "-o", opts, "-l", `${dir}/server.log`, "-w", "start"]),
  );
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** Stop a throwaway cluster started by {@linkcode startCluster}. */
export async function stopCluster(bin: string, dir: string): Promise<void> {
  await run(...asPgUser(`${bin}/pg_ctl`, ["-D", dir, "-m", "immediate", "-w", "stop"]));
}

/** A fresh database on the located server (a throwaway cluster if need be). */
export async function testDatabase(source: PgSource): Promise<TestDatabase> {
  let serverUrl: string;
  let stop = async () => {};
  if ("url" in source) {
    serverUrl = source.url;
  } else {
    const dir = await Deno.makeTempDir({ prefix: "astron-watch-pg-" });
    serverUrl = await startCluster(source.bin, dir);
    stop = async () => {
      await stopCluster(source.bin, dir);
      await Deno.remove(dir, { recursive: true });
    };
  }
  const name = `aw_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async [Symbol.asyncDispose]() {
      const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await sql.end();
      await stop();
    },
  };
}

if (import.meta.main) {
  const [action, dir] = Deno.args;
  const bin = pgBinDir();
  if (!bin || !dir || (action !== "start" && action !== "stop")) {
    console.error(bin ? "usage: postgres.ts start|stop DIR" : "no initdb/pg_ctl found");
    Deno.exit(2);
  }
  if (action === "start") console.log(await startCluster(bin, dir));
  else await stopCluster(bin, dir);
}
