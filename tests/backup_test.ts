/**
 * Backups (issue 14) end to end, against real servers: a throwaway
 * PostgreSQL and MariaDB, the real `pg_dump`, `mariadb-dump`, `psql` and
 * `mariadb` clients, the agent as `deno task start` runs it and the CLI
 * with the same permissions. Dumps restored into fresh databases equal
 * their source; the password never reaches an argv (a stand-in `docker`
 * that runs the tool locally shows what `docker exec` is given); a wrong
 * password, a tool killed mid-dump, the agent killed mid-dump and a full
 * filesystem each fail, say why, and leave nothing that looks like a dump.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { type AgentProcess, cli, type CliResult, spawnAgent, tempDir } from "./support/agent.ts";
import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { locateMariadb, type MariadbServer, startMariadb } from "./support/mariadb.ts";
import { type Availability, serverTest, tmpfsAvailable } from "./support/servers.ts";

const PG = locatePostgres();
const MARIADB = locateMariadb();

// ---------------------------------------------------------------- helpers

/** Both things a test needs, or the first reason one is missing. */
function both<A, B>(a: Availability<A>, b: Availability<B>): Availability<[A, B]> {
  if (!a.ok) return a;
  if (!b.ok) return b;
  return { ok: true, value: [a.value, b.value] };
}

const tmpfs = tmpfsAvailable;

/** A job name no other test (or CI run on a shared server) uses: scratch databases are named after it. */
function jobName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

async function waitUntil(what: string, pred: () => Promise<boolean> | boolean, ms = 20_000) {
  const until = Date.now() + ms;
  while (!await pred()) {
    if (Date.now() > until) throw new Error(`not within ${ms}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The agent's config with `backups:` entries (YAML text, indented as list items). */
function agentConfig(dir: string, backups: string): string {
  return `log:
  dir: ${dir}/logs
  stderr: always
server:
  listen: 127.0.0.1:0
  write_token: t0ken
  shutdown_timeout: 10s
store:
  url: sqlite:${dir}/data/traces.db
probes: []
backups:
${backups}`;
}

/** Run `astron-watch backup ARGS --config CONFIG` (the permissions of `deno task start`). */
function backupCli(
  config: string,
  args: string[],
  env?: Record<string, string>,
): Promise<CliResult> {
  return cli(["backup", ...args, "--config", config], { env });
}

function show(r: CliResult): string {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

interface ListedJob {
  job: string;
  dir: string;
  state: {
    last_run?: { ok: boolean; error?: string; files: string[] };
    last_success?: { at: number };
    failures: number;
  };
  dumps: {
    file: string;
    database: string;
    sha256: string;
    tables: Record<string, number>;
    verify?: { mode: string; ok: boolean; detail: string };
  }[];
}

/** `backup list JOB --json`. */
async function listJob(config: string, job: string): Promise<ListedJob> {
  const r = await backupCli(config, ["list", job, "--json"]);
  assert.equal(r.code, 0, show(r));
  const all = JSON.parse(r.stdout) as ListedJob[];
  assert.equal(all.length, 1);
  return all[0];
}

/** The names in a job's directory, sorted (none when it does not exist). */
async function filesIn(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** Names that look like a dump, finished or not: `.sql`, `.sql.gz`, their manifests and `.partial`s. */
function dumpLike(names: string[]): string[] {
  return names.filter((n) => /\.sql(\.gz)?(\.json|\.partial)?$/.test(n));
}

/** Write an executable script. */
async function script(path: string, text: string): Promise<string> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
  return path;
}

// ------------------------------------------------------------- PostgreSQL

/** Values a dump must carry exactly: COPY's escapes, the markers as data, every script. */
const TRICKY = [
  "tab\there",
  "new\nline",
  "cr\r\nlf",
  "back\\slash \\N \\t",
  "\\.",
  'quote\'s "double" `tick`',
  "ünïcödé 日本語 😀 Ωμέγα",
  "-- PostgreSQL database dump complete",
  "COPY public.notes (id, body) FROM stdin;",
  "",
];

/** A database worth dumping: 3 tables (one with a name that needs quoting), a sequence, a view. */
async function seedPostgres(url: string, rows = 3000): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`
      CREATE TABLE notes (id int PRIMARY KEY, body text);
      CREATE TABLE "Order Lines" (
        id int PRIMARY KEY, note_id int REFERENCES notes(id), amount numeric(12,2),
        payload bytea, at timestamptz
      );
      CREATE TABLE tags (id serial PRIMARY KEY, name text UNIQUE NOT NULL);
      CREATE VIEW big_orders AS SELECT * FROM "Order Lines" WHERE amount > 100;
    `);
    const notes = Array.from({ length: rows }, (_, i) => {
      const id = i + 1;
      const body = id === 1
        ? "\\."
        : id % 97 === 0
        ? null
        : TRICKY[id % TRICKY.length] + (id % 7 ? ` #${id}` : "");
      return { id, body };
    });
    for (let i = 0; i < notes.length; i += 1000) {
      await sql`INSERT INTO notes ${sql(notes.slice(i, i + 1000), "id", "body")}`;
    }
    await sql.unsafe(`
      INSERT INTO "Order Lines"
        SELECT g, 1 + g % ${rows}, g * 1.25, decode(md5(g::text), 'hex'),
               timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
        FROM generate_series(1, ${Math.round(rows * 2 / 3)}) g;
      INSERT INTO tags (name) SELECT 'tag-' || g FROM generate_series(1, 50) g;
    `);
  } finally {
    await sql.end();
  }
}

/** Per table: rows and a hash of every row's text, plus the sequence's position. */
async function pgFingerprint(url: string): Promise<Record<string, string>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const out: Record<string, string> = {};
    const tables = await sql<{ name: string }[]>`
      SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`;
    for (const { name } of tables) {
      const [r] = await sql.unsafe(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) AS h
         FROM "${name.replaceAll('"', '""')}" t`,
      );
      out[name] = `${r.n} rows, md5 ${r.h}`;
    }
    const [seq] = await sql`SELECT last_value::int AS v FROM tags_id_seq`;
    out["tags_id_seq"] = `last_value ${seq.v}`;
    const [view] = await sql`SELECT count(*)::int AS n FROM big_orders`;
    out["big_orders (view)"] = `${view.n} rows`;
    return out;
  } finally {
    await sql.end();
  }
}

/** How the job's restore verifications name their scratch databases (another test's are not ours). */
function scratchPrefix(job: string): string {
  return `astron_watch_verify_${job.toLowerCase().replace(/[^a-z0-9_]/g, "_")}_`;
}

/** The URL of a database that does not exist yet on the same server, and its name. */
function siblingDatabase(url: string, prefix: string): { url: string; name: string } {
  const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { url: u.href, name };
}

/** Names of the server's databases starting with `prefix`. */
async function pgDatabases(url: string, prefix: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ datname: string }[]>`
      SELECT datname FROM pg_database WHERE starts_with(datname, ${prefix}) ORDER BY 1`;
    return rows.map((r) => r.datname);
  } finally {
    await sql.end();
  }
}

async function pgDrop(url: string, name: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await sql.end();
  }
}

async function metrics(agent: AgentProcess): Promise<string> {
  return await (await agent.fetch("/metrics")).text();
}

/** A sample's value in the Prometheus text, for the series with `job="JOB"`. */
function sample(text: string, name: string, job: string): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name && m[2].split(",").includes(`job="${job}"`)) return Number(m[3]);
  }
  return undefined;
}

serverTest(
  "postgres: the agent's scheduled job dumps and restore-verifies, /api/v1/backups, /status and /metrics show it; `backup restore --yes` into a new database gives the same rows and content; without --yes nothing is done",
  PG,
  async (source) => {
    await using dir = await tempDir();
    await using db = await testDatabase(source);
    await seedPostgres(db.url);
    const job = jobName("pg");
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - name: ${job}
    type: postgres
    url: ${db.url}
    schedule: "* * * * * *"
    dir: ${dir.path}/backups
    verify: restore
`,
      ),
    );
    const agent = await spawnAgent({ config });
    try {
      // deno-lint-ignore no-explicit-any
      let seen: any;
      await waitUntil("a restore-verified run in GET /api/v1/backups", async () => {
        const body = await (await agent.fetch("/api/v1/backups")).json();
        seen = body.jobs.find((j: { name: string }) => j.name === job);
        return !!seen?.last_success &&
          seen.files?.some((f: { verify?: { mode: string; ok: boolean } }) =>
            f.verify?.mode === "restore" && f.verify.ok
          );
      }).catch((err) => {
        throw new Error(`${err.message}\nlast answer: ${JSON.stringify(seen)}\n${agent.text()}`);
      });
      assert.equal(seen.type, "postgres");
      assert.equal(seen.schedule, "* * * * * *");
      assert.ok(seen.dumps >= 1 && seen.bytes > 0, JSON.stringify(seen));
      assert.match(seen.files[0].file, /\/\d{8}T\d{6}Z-aw_test_\w+\.sql\.gz$/);
      assert.match(seen.files[0].sha256, /^[0-9a-f]{64}$/);

      const text = await metrics(agent);
      const last = sample(text, "astron_watch_backup_last_success_timestamp_seconds", job);
      assert.ok(last !== undefined, `no last-success gauge for ${job} in:\n${text}`);
      assert.ok(Math.abs(last * 1000 - Date.now()) < 600_000, `last success ${last}`);
      assert.ok((sample(text, "astron_watch_backup_size_bytes", job) ?? 0) > 0, text);
      assert.ok(sample(text, "astron_watch_backup_duration_seconds", job) !== undefined, text);
      assert.equal(sample(text, "astron_watch_backup_failures_total", job), 0, text);

      const status = await (await agent.fetch("/status?format=json")).json();
      const view = status.backups?.find((j: { name: string }) => j.name === job);
      assert.ok(view?.state?.last_success, JSON.stringify(status.backups));
    } finally {
      agent.kill("SIGTERM");
      const exit = await agent.exit();
      assert.equal(exit.code, 0, exit.stderr);
    }

    // The verification's scratch databases were dropped.
    assert.deepEqual(await pgDatabases(db.url, scratchPrefix(job)), []);

    const listed = await listJob(config, job);
    assert.ok(listed.dumps.length >= 1);
    const newest = listed.dumps[0];
    assert.equal(newest.verify?.mode, "restore");
    assert.equal(newest.verify?.ok, true, JSON.stringify(newest.verify));
    assert.equal(newest.tables["public.notes"], 3000);
    assert.equal(newest.tables['public."Order Lines"'], 2000);
    assert.equal(newest.tables["public.tags"], 50);
    const file = `${listed.dir}/${newest.file}`;
    assert.deepEqual(dumpLike(await filesIn(listed.dir)).filter((n) => n.endsWith(".partial")), []);

    const target = siblingDatabase(db.url, "aw_restored");
    try {
      // Without --yes: says what it would do, does nothing.
      const dry = await cli(["backup", "restore", file, "--to", target.url]);
      assert.equal(dry.code, 0, show(dry));
      assert.match(dry.stdout, /nothing done: add --yes/);
      assert.deepEqual(await pgDatabases(db.url, target.name), [], "the dry run created nothing");

      const done = await cli(["backup", "restore", file, "--to", target.url, "--yes"]);
      assert.equal(done.code, 0, show(done));
      assert.match(done.stdout, /^restored: /m);
      const want = await pgFingerprint(db.url);
      assert.match(want["notes"], /^3000 rows, md5 [0-9a-f]{32}$/);
      assert.deepEqual(await pgFingerprint(target.url), want);

      // Once it holds tables, a second restore into it is refused and changes nothing.
      const again = await cli(["backup", "restore", file, "--to", target.url, "--yes"]);
      assert.equal(again.code, 1, show(again));
      assert.match(again.stdout, /already holds \d+ tables/);
      assert.deepEqual(await pgFingerprint(target.url), want);
    } finally {
      await pgDrop(db.url, target.name);
    }
  },
);

serverTest(
  "postgres: `backup verify` passes a good dump (and --restore loads and counts it); one flipped byte anywhere fails it naming sha256",
  PG,
  async (source) => {
    await using dir = await tempDir();
    await using db = await testDatabase(source);
    await seedPostgres(db.url, 600);
    const job = jobName("pgv");
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - { name: ${job}, type: postgres, url: "${db.url}", dir: ${dir.path}/backups, verify: none }\n`,
      ),
    );
    const now = await backupCli(config, ["now", job]);
    assert.equal(now.code, 0, show(now));
    const listed = await listJob(config, job);
    assert.equal(listed.dumps.length, 1);
    assert.equal(listed.dumps[0].verify, undefined, "verify: none leaves no verification");
    const file = `${listed.dir}/${listed.dumps[0].file}`;

    const good = await backupCli(config, ["verify", file]);
    assert.equal(good.code, 0, show(good));
    assert.match(good.stdout, /^structure: ok: sha256 matches, 3 tables, 1050 rows, complete/m);
    const restored = await backupCli(config, ["verify", file, "--restore"]);
    assert.equal(restored.code, 0, show(restored));
    assert.match(restored.stdout, /^restore: ok: restored into astron_watch_verify_/m);
    assert.deepEqual(await pgDatabases(db.url, scratchPrefix(job)), []);

    const bytes = await Deno.readFile(file);
    // In the gzip header (its mtime), in the compressed data, and in the trailer (CRC32).
    for (const at of [4, Math.floor(bytes.length / 2), bytes.length - 6]) {
      const flipped = bytes.slice();
      flipped[at] ^= 0x01;
      await Deno.writeFile(file, flipped);
      const bad = await backupCli(config, ["verify", file]);
      assert.equal(bad.code, 1, `byte ${at} of ${bytes.length} flipped: ${show(bad)}`);
      assert.match(
        bad.stdout,
        /^structure: FAILED: .*sha256/m,
        `byte ${at} of ${bytes.length} flipped: ${show(bad)}`,
      );
    }
    await Deno.writeFile(file, bytes);
    assert.equal((await backupCli(config, ["verify", file])).code, 0);
  },
);

// ---------------------------------------------------------------- MariaDB

/** The MariaDB twin of {@linkcode seedPostgres}, with a trigger and a procedure. */
async function seedMariadb(server: MariadbServer, db: string, rows = 3000): Promise<void> {
  const lit = (s: string) =>
    `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'").replaceAll("\n", "\\n")}'`;
  const tricky = [
    "tab\there",
    "new\nline",
    "cr\r\nlf",
    "back\\slash \\N",
    'quote\'s "double" `tick`',
    "ünïcödé 日本語 😀 Ωμέγα",
    "-- Dump completed on 2026-01-01",
    "(paren); INSERT INTO `notes` VALUES (1,'x');",
    "",
  ].map(lit);
  await server.rootQuery(`
    CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4;
    USE \`${db}\`;
    CREATE TABLE notes (id INT PRIMARY KEY, body TEXT) CHARACTER SET utf8mb4;
    INSERT INTO notes SELECT seq,
      CASE WHEN seq % 97 = 0 THEN NULL
           ELSE CONCAT(ELT(1 + seq % ${tricky.length}, ${tricky.join(", ")}), ' #', seq) END
      FROM seq_1_to_${rows};
    CREATE TABLE \`order lines\` (
      id INT PRIMARY KEY AUTO_INCREMENT, note_id INT, amount DECIMAL(12,2),
      payload BLOB, at DATETIME(3)
    );
    INSERT INTO \`order lines\` SELECT seq, 1 + seq % ${rows}, seq * 1.25, UNHEX(MD5(seq)),
      TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq MINUTE FROM seq_1_to_${
    Math.round(rows * 2 / 3)
  };
    CREATE TABLE tags (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50) UNIQUE NOT NULL);
    INSERT INTO tags (name) SELECT CONCAT('tag-', seq) FROM seq_1_to_50;
    CREATE TRIGGER tags_upper BEFORE INSERT ON tags FOR EACH ROW SET NEW.name = UPPER(NEW.name);
    CREATE PROCEDURE count_notes() SELECT COUNT(*) FROM notes;
  `);
}

/** Per table: rows and a hash of every row (every column QUOTE()d, so NULL differs from ''). */
async function mariadbFingerprint(
  server: MariadbServer,
  db: string,
): Promise<Record<string, string>> {
  const cols = await server.rootQuery(
    `SELECT table_name, GROUP_CONCAT(CONCAT('QUOTE(\`', column_name, '\`)') ORDER BY ordinal_position)
     FROM information_schema.columns WHERE table_schema = '${db}' GROUP BY table_name ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const [table, quoted] of cols) {
    const [[n, h]] = await server.rootQuery(
      `SET SESSION group_concat_max_len = 1073741824;
       SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', ${quoted}) ORDER BY id SEPARATOR '\\n'))
       FROM \`${table}\``,
      db,
    );
    out[table] = `${n} rows, md5 ${h}`;
  }
  const [[auto]] = await server.rootQuery(
    `SELECT AUTO_INCREMENT FROM information_schema.tables
     WHERE table_schema = '${db}' AND table_name = 'tags'`,
  );
  out["tags AUTO_INCREMENT"] = auto;
  const [[triggers]] = await server.rootQuery(
    `SELECT GROUP_CONCAT(trigger_name) FROM information_schema.triggers WHERE trigger_schema = '${db}'`,
  );
  out["triggers"] = triggers;
  const [[routines]] = await server.rootQuery(
    `SELECT GROUP_CONCAT(routine_name) FROM information_schema.routines WHERE routine_schema = '${db}'`,
  );
  out["routines"] = routines;
  return out;
}

async function mariadbDatabases(server: MariadbServer, prefix: string): Promise<string[]> {
  return (await server.rootQuery(
    `SELECT schema_name FROM information_schema.schemata
     WHERE schema_name LIKE '${prefix.replaceAll("_", "\\_")}%' ORDER BY 1`,
  )).map((r) => r[0]);
}

serverTest(
  "mariadb: `backup now` dumps and restore-verifies; `backup restore --yes` into a new database gives the same rows, content, trigger and procedure; without --yes nothing is done",
  MARIADB,
  async (bin) => {
    await using dir = await tempDir();
    await using server = await startMariadb({ bin });
    await seedMariadb(server, "shop");
    const job = jobName("my");
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - name: ${job}
    type: mysql
    url: "${server.url("shop")}"
    dir: ${dir.path}/backups
    verify: restore
`,
      ),
    );
    const now = await backupCli(config, ["now", job]);
    assert.equal(now.code, 0, show(now));
    assert.match(now.stdout, /^shop: .*\.sql\.gz .*verified: restored into astron_watch_verify_/m);
    assert.match(now.stdout, new RegExp(`^${job}: ok in `, "m"));
    assert.deepEqual(await mariadbDatabases(server, "astron_watch_verify_"), []);

    const listed = await listJob(config, job);
    assert.equal(listed.dumps.length, 1);
    const dump = listed.dumps[0];
    assert.deepEqual(dump.tables, { "`notes`": 3000, "`order lines`": 2000, "`tags`": 50 });
    assert.equal(dump.verify?.ok, true);
    assert.equal(listed.state.last_run?.ok, true);
    const file = `${listed.dir}/${dump.file}`;

    const target = server.url("shop_restored");
    const dry = await cli(["backup", "restore", file, "--to", target]);
    assert.equal(dry.code, 0, show(dry));
    assert.match(dry.stdout, /nothing done: add --yes/);
    assert.ok(!dry.stdout.includes(server.password), "the password is not printed");
    assert.deepEqual(await mariadbDatabases(server, "shop_restored"), []);

    const done = await cli(["backup", "restore", file, "--to", target, "--yes"]);
    assert.equal(done.code, 0, show(done));
    assert.match(done.stdout, /^restored: /m);
    const want = await mariadbFingerprint(server, "shop");
    assert.match(want["notes"], /^3000 rows, md5 [0-9a-f]{32}$/);
    assert.equal(want["triggers"], "tags_upper");
    assert.deepEqual(await mariadbFingerprint(server, "shop_restored"), want);
  },
);

/** A stand-in `docker` client: `docker exec -i [-e NAME[=VALUE]]... CONTAINER CMD ARGS...`. */
async function dockerStandIn(bin: string, log: string, container: string): Promise<void> {
  await Deno.mkdir(bin, { recursive: true });
  await script(
    `${bin}/docker`,
    `#!/bin/bash
# Logs its argv (NUL-separated, one invocation per line), then runs CMD here
# as "docker exec" runs it in the container: with only the -e variables
# (taken from this client's environment) and stdin passed through. Like the
# real client, it stays alive while the command runs.
{ printf '%s\\0' "$@"; printf '\\n'; } >> '${log}'
if [ "$1" != exec ]; then echo "docker stand-in: only exec" >&2; exit 125; fi
shift
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    -i | --interactive) shift ;;
    -e | --env)
      case "$2" in
        *=*) pass+=("\${2%%=*}"); export "$2" ;;
        *) [ -n "\${!2+x}" ] && pass+=("$2") ;;
      esac
      shift 2 ;;
    -*) echo "unknown flag: $1" >&2; exit 125 ;;
    *) break ;;
  esac
done
if [ "$1" != '${container}' ]; then
  echo "Error response from daemon: No such container: $1" >&2
  exit 1
fi
shift
keep=" PATH HOME LANG \${pass[*]} "
for v in $(compgen -e); do
  case "$keep" in *" $v "*) ;; *) unset "$v" 2>/dev/null ;; esac
done
"$@"
exit $?
`,
  );
}

/** Every process's argv now (of those still there to read). */
async function allArgv(): Promise<{ pid: number; argv: string[] }[]> {
  const out: { pid: number; argv: string[] }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const raw = await Deno.readFile(`/proc/${e.name}/cmdline`);
      if (raw.length) {
        out.push({
          pid: Number(e.name),
          argv: new TextDecoder().decode(raw).replace(/\0$/, "").split("\0"),
        });
      }
    } catch {
      // gone already
    }
  }
  return out;
}

/** A root session holding `LOCK TABLES table WRITE` until released: a dump waits on it. */
async function holdTableLock(server: MariadbServer, db: string, table: string) {
  const child = new Deno.Command(server.bin.client, {
    args: [...server.rootArgs(), "-n", "-N", "-B", db],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  const enc = new TextEncoder();
  await w.write(enc.encode(`LOCK TABLES \`${table}\` WRITE;\nSELECT 'locked';\n`));
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the lock session ended: ${seen}`);
    seen += value;
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await w.write(enc.encode("UNLOCK TABLES;\n")).catch(() => {});
    await w.close().catch(() => {});
    while (!(await reader.read()).done) {
      // drain
    }
    await child.stderr.cancel();
    await child.status;
  };
  return { release, [Symbol.asyncDispose]: release };
}

serverTest(
  "docker: a job with docker: runs the tools through `docker exec -i -e MYSQL_PWD CONTAINER`; the password is in no process's argv; an unknown container fails with the daemon's line and leaves no dump",
  MARIADB,
  async (bin) => {
    const password = "Dk9!x#Q7v-argv";
    await using dir = await tempDir();
    await using server = await startMariadb({ bin, password });
    await seedMariadb(server, "shop", 500);
    const standIn = `${dir.path}/bin`;
    const log = `${dir.path}/docker-argv.log`;
    await dockerStandIn(standIn, log, "astron-agent-mysql");
    const job = jobName("box");
    const missing = jobName("nobox");
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - name: ${job}
    type: mysql
    docker: astron-agent-mysql
    host: 127.0.0.1
    port: ${server.port}
    user: bk
    password: \${BACKUP_TEST_PASSWORD}
    databases: [shop]
    dir: ${dir.path}/backups
    verify: restore
  - name: ${missing}
    type: mysql
    docker: no-such-box
    user: bk
    password: \${BACKUP_TEST_PASSWORD}
    databases: [shop]
    dir: ${dir.path}/backups
`,
      ),
    );
    const env = {
      PATH: `${standIn}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      BACKUP_TEST_PASSWORD: password,
    };
    const secrets = [password, encodeURIComponent(password)];
    const leaks = (argv: string[]) => secrets.some((s) => argv.some((a) => a.includes(s)));

    // The dump waits on a table lock while every process's argv is read.
    await using lock = await holdTableLock(server, "shop", "notes");
    const seen = new Map<string, string[]>();
    let running = true;
    const run = backupCli(config, ["now", job], env).finally(() => running = false);
    let sawClient = false;
    let sawTool = false;
    const polling = (async () => {
      while (running) {
        for (const p of await allArgv()) {
          seen.set(p.argv.join(" "), p.argv);
          if (p.argv.includes("astron-agent-mysql") && p.argv.includes("mysqldump")) {
            sawClient = true;
          }
          if (p.argv[0] === "mysqldump" && p.argv.includes("bk")) sawTool = true;
        }
        if (sawClient && sawTool) await lock.release();
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const until = Date.now() + 20_000;
    while (running && !(sawClient && sawTool) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await lock.release();
    const now = await run;
    await polling;
    assert.equal(now.code, 0, show(now));
    assert.ok(sawClient, "the docker client's argv was seen while the dump ran");
    assert.ok(sawTool, "the dump tool's argv was seen while it ran");
    const leaked = [...seen.values()].filter(leaks).map((a) => a.join(" "));
    assert.deepEqual(leaked, [], "the password is in no process's argv");

    const calls = (await Deno.readTextFile(log)).split("\n").filter(Boolean)
      .map((l) => l.replace(/\0$/, "").split("\0"));
    assert.ok(!calls.some(leaks), "the password is not in docker's argv");
    const dump = calls.find((c) => c.includes("mysqldump"));
    assert.ok(dump, JSON.stringify(calls));
    assert.deepEqual(dump.slice(0, 6), [
      "exec",
      "-i",
      "-e",
      "MYSQL_PWD",
      "astron-agent-mysql",
      "mysqldump",
    ]);
    assert.ok(dump.includes("127.0.0.1") && dump.includes(String(server.port)), dump.join(" "));
    // The restore verification's load and queries went through the container too.
    assert.ok(calls.some((c) => c[5] === "mysql"), JSON.stringify(calls));
    for (const c of calls) assert.deepEqual(c.slice(0, 4), ["exec", "-i", "-e", "MYSQL_PWD"]);

    const listed = await listJob(config, job);
    assert.equal(listed.dumps.length, 1);
    assert.equal(listed.dumps[0].verify?.ok, true, JSON.stringify(listed.dumps[0].verify));
    assert.equal(listed.dumps[0].tables["`notes`"], 500);
    const state = await Deno.readTextFile(`${listed.dir}/state.json`);
    assert.ok(!secrets.some((s) => state.includes(s)));

    // An unknown container: the daemon's own line, nothing left behind.
    const daemon = "Error response from daemon: No such container: no-such-box";
    const bad = await backupCli(config, ["now", missing], env);
    assert.equal(bad.code, 1, show(bad));
    assert.ok(bad.stdout.includes(`shop: FAILED: ${daemon}`), show(bad));
    const failed = await listJob(config, missing);
    assert.equal(failed.state.last_run?.ok, false);
    assert.ok(failed.state.last_run?.error?.includes(daemon), JSON.stringify(failed.state));
    assert.equal(failed.state.failures, 1);
    assert.deepEqual(failed.dumps, []);
    assert.deepEqual(await filesIn(failed.dir), ["state.json"]);
    const text = await backupCli(config, ["list", missing]);
    assert.ok(text.stdout.includes(`0 dumps`) && text.stdout.includes(daemon), show(text));
  },
);

// ------------------------------------------------------------ failure modes

serverTest(
  "mariadb: `backup restore` of a dump that does not load fails with the tool's own error line, not the broken pipe it leaves",
  MARIADB,
  async (bin) => {
    await using dir = await tempDir();
    await using server = await startMariadb({ bin });
    // Well over a pipe's buffer: the client stops at line 2 while input is still coming.
    const rows = Array.from({ length: 50_000 }, (_, i) => `INSERT INTO t VALUES (${i});\n`);
    const file = `${dir.path}/broken.sql`;
    await Deno.writeTextFile(file, "CREATE TABLE t (id INT);\nTHIS IS NOT SQL;\n" + rows.join(""));
    const r = await cli(["backup", "restore", file, "--to", server.url("broken"), "--yes"]);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stdout,
      /^FAILED: loading into broken: ERROR 1064 \(42000\) at line 2/m,
      show(r),
    );
    assert.doesNotMatch(r.stdout, /Broken pipe/, show(r));
  },
);

serverTest(
  "mariadb: a wrong password fails with the tool's Access denied line, leaves nothing that looks like a dump, and is counted (state.json, list --json, the agent's failures metric)",
  MARIADB,
  async (bin) => {
    await using dir = await tempDir();
    await using server = await startMariadb({ bin });
    await seedMariadb(server, "shop", 100);
    const job = jobName("wrongpw");
    const config = `${dir.path}/c.yaml`;
    const wrong = "not-the-pw!#1";
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - name: ${job}
    type: mysql
    url: "mysql://bk:${encodeURIComponent(wrong)}@127.0.0.1:${server.port}/shop"
    every: 1s
    dir: ${dir.path}/backups
`,
      ),
    );
    const jobDir = `${dir.path}/backups/${job}`;
    const now = await backupCli(config, ["now", job]);
    assert.equal(now.code, 1, show(now));
    assert.match(
      now.stdout,
      /^shop: FAILED: .*Access denied for user 'bk'@'[^']+' \(using password: YES\)/m,
    );
    assert.ok(!now.stdout.includes(wrong) && !now.stderr.includes(wrong), show(now));
    assert.deepEqual(dumpLike(await filesIn(jobDir)), []);
    const listed = await listJob(config, job);
    assert.equal(listed.state.failures, 1);
    assert.equal(listed.state.last_run?.ok, false);
    assert.match(listed.state.last_run?.error ?? "", /Access denied for user 'bk'/);
    assert.deepEqual(listed.dumps, []);

    const agent = await spawnAgent({ config });
    try {
      await waitUntil(
        "the agent's runs counted in astron_watch_backup_failures_total",
        async () =>
          (sample(await metrics(agent), "astron_watch_backup_failures_total", job) ?? 0) >= 2,
      );
      // A run asked for over the API needs the write token, and answers with the outcome.
      const anon = await agent.fetch(`/api/v1/backups/${job}/run`, { method: "POST" });
      await anon.body?.cancel();
      assert.equal(anon.status, 401);
      const asked = await agent.fetch(`/api/v1/backups/${job}/run`, {
        method: "POST",
        headers: { Authorization: "Bearer t0ken" },
      });
      const outcome = await asked.json();
      assert.equal(asked.status, 500, JSON.stringify(outcome));
      assert.equal(outcome.ok, false);
      assert.match(outcome.databases[0].error, /Access denied for user 'bk'/);
      const body = await (await agent.fetch("/api/v1/backups")).json();
      const view = body.jobs.find((j: { name: string }) => j.name === job);
      assert.equal(view.last_run.ok, false);
      assert.match(view.last_run.error, /Access denied for user 'bk'/);
      assert.equal(view.last_success, undefined);
      assert.deepEqual(view.files, []);
      const text = await metrics(agent);
      assert.equal(
        sample(text, "astron_watch_backup_last_success_timestamp_seconds", job),
        undefined,
        "no last success is reported for a job that never succeeded",
      );
    } finally {
      agent.kill("SIGTERM");
      const exit = await agent.exit();
      assert.equal(exit.code, 0, exit.stderr);
    }
    assert.deepEqual(dumpLike(await filesIn(jobDir)), []);
    assert.ok(!(await Deno.readTextFile(`${jobDir}/state.json`)).includes(wrong));
  },
);

serverTest(
  "postgres: a dump tool killed by SIGKILL mid-dump, or one that stops early and exits 0, fails the run and leaves neither a dump nor a .partial",
  PG,
  async (source) => {
    await using dir = await tempDir();
    await using db = await testDatabase(source);
    await seedPostgres(db.url, 600);
    const killed = await script(
      `${dir.path}/pg_dump_killed`,
      `#!/bin/bash\npg_dump "$@" 2>/dev/null | head -c 3000\nkill -KILL $$\n`,
    );
    const short = await script(
      `${dir.path}/pg_dump_short`,
      `#!/bin/bash\npg_dump "$@" 2>/dev/null | head -c 3000\nexit 0\n`,
    );
    const a = jobName("killed");
    const b = jobName("short");
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - { name: ${a}, type: postgres, url: "${db.url}", dir: ${dir.path}/backups, tool: ${killed} }
  - { name: ${b}, type: postgres, url: "${db.url}", dir: ${dir.path}/backups, tool: ${short} }
`,
      ),
    );
    const r1 = await backupCli(config, ["now", a]);
    assert.equal(r1.code, 1, show(r1));
    assert.match(r1.stdout, /: FAILED: .*killed by SIGKILL/, show(r1));
    const r2 = await backupCli(config, ["now", b]);
    assert.equal(r2.code, 1, show(r2));
    assert.match(
      r2.stdout,
      /: FAILED: the dump ended without its completion marker \(-- PostgreSQL database dump complete\)/,
      show(r2),
    );
    for (const job of [a, b]) {
      const listed = await listJob(config, job);
      assert.deepEqual(listed.dumps, []);
      assert.equal(listed.state.last_run?.ok, false);
      assert.equal(listed.state.failures, 1);
      assert.deepEqual(await filesIn(listed.dir), ["state.json"], job);
    }
  },
);

serverTest(
  "postgres: the agent SIGKILLed mid-dump leaves only a .partial, which `backup list` does not show and the next run removes",
  PG,
  async (source) => {
    await using dir = await tempDir();
    await using db = await testDatabase(source);
    await seedPostgres(db.url, 600);
    const pidFile = `${dir.path}/tool.pid`;
    // Writes part of a real dump, then hangs (while HANG_DUMP is set).
    const tool = await script(
      `${dir.path}/pg_dump_slow`,
      `#!/bin/bash
echo $$ > '${pidFile}'
if [ -n "$HANG_DUMP" ]; then
  pg_dump "$@" 2>/dev/null | head -c 20000
  exec sleep 60
fi
exec pg_dump "$@"
`,
    );
    const job = jobName("crash");
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      agentConfig(
        dir.path,
        `  - name: ${job}
    type: postgres
    url: "${db.url}"
    every: 1h
    compress: none
    dir: ${dir.path}/backups
    tool: ${tool}
`,
      ),
    );
    const jobDir = `${dir.path}/backups/${job}`;
    const agent = await spawnAgent({ config, env: { HANG_DUMP: "1" } });
    let toolPid = 0;
    try {
      await waitUntil("the dump under way: a .partial holding data", async () => {
        for (const n of await filesIn(jobDir)) {
          if (n.endsWith(".sql.partial") && (await Deno.stat(`${jobDir}/${n}`)).size >= 20000) {
            return true;
          }
        }
        return false;
      });
      toolPid = Number((await Deno.readTextFile(pidFile)).trim());
    } finally {
      await agent.close(); // SIGKILL
    }
    try {
      const names = await filesIn(jobDir);
      assert.equal(names.filter((n) => n.endsWith(".partial")).length, 1, names.join(" "));
      assert.deepEqual(
        dumpLike(names).filter((n) => !n.endsWith(".partial")),
        [],
        "nothing but the .partial looks like a dump",
      );
      const listed = await listJob(config, job);
      assert.deepEqual(listed.dumps, []);
      const text = await backupCli(config, ["list", job]);
      assert.match(text.stdout, /: 0 dumps/);
      assert.ok(!text.stdout.includes(".partial"), show(text));
    } finally {
      // The killed agent's tool lives on (as it would); end it.
      const argv = await Deno.readTextFile(`/proc/${toolPid}/cmdline`).catch(() => "");
      if (toolPid && argv.startsWith("sleep")) Deno.kill(toolPid, "SIGKILL");
    }

    // The next run (the killed agent's lock is taken over) removes it and dumps.
    const next = await backupCli(config, ["now", job]);
    assert.equal(next.code, 0, show(next));
    const names = await filesIn(jobDir);
    assert.deepEqual(
      names.filter((n) => n.endsWith(".partial") || n === ".lock"),
      [],
      names.join(" "),
    );
    assert.equal(names.filter((n) => n.endsWith(".sql")).length, 1, names.join(" "));
    assert.equal((await listJob(config, job)).dumps.length, 1);
  },
);

async function mountTmpfs(dir: string, size: string): Promise<void> {
  const m = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  }).output();
  if (!m.success) throw new Error(`mount failed: ${new TextDecoder().decode(m.stderr)}`);
}

serverTest(
  "postgres: a dump into a full filesystem fails naming 'No space left on device' and leaves nothing that looks like a dump",
  both(PG, tmpfs()),
  async ([source]) => {
    await using dir = await tempDir();
    await using db = await testDatabase(source);
    // About 2.7 MB of hex text: well over 256k even gzipped.
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`
        CREATE TABLE big (id int PRIMARY KEY, body text);
        INSERT INTO big SELECT g, md5(random()::text) || md5(random()::text) ||
          md5(random()::text) || md5(random()::text) FROM generate_series(1, 20000) g;
      `);
    } finally {
      await sql.end();
    }
    const disk = `${dir.path}/disk`;
    await Deno.mkdir(disk);
    await mountTmpfs(disk, "256k");
    try {
      const job = jobName("full");
      const config = `${dir.path}/c.yaml`;
      await Deno.writeTextFile(
        config,
        agentConfig(
          dir.path,
          `  - { name: ${job}, type: postgres, url: "${db.url}", dir: ${disk}, verify: structure }\n`,
        ),
      );
      const r = await backupCli(config, ["now", job]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stdout, /: FAILED: .*No space left on device/, show(r));
      const names = await filesIn(`${disk}/${job}`);
      assert.deepEqual(dumpLike(names), [], names.join(" "));
      const listed = await listJob(config, job);
      assert.deepEqual(listed.dumps, []);
      assert.equal(listed.state.last_run?.ok, false);
      assert.match(listed.state.last_run?.error ?? "", /No space left on device/);
    } finally {
      await new Deno.Command("umount", { args: ["-l", disk] }).output();
    }
  },
);

Deno.test("runs in one second get distinct names; copy_to gets each dump and manifest; retention keeps keep_last in both", async () => {
  await using dir = await tempDir();
  const tool = `${dir.path}/fake_pg_dump`;
  // A dump tool that writes a small complete PostgreSQL dump (its argv is ignored).
  await Deno.writeTextFile(
    tool,
    `#!/bin/sh
printf -- '--\\n-- PostgreSQL database dump\\n--\\n-- Dumped from database version 15.18\\n'
printf 'COPY public.t (id) FROM stdin;\\n1\\n2\\n\\\\.\\n'
printf -- '--\\n-- PostgreSQL database dump complete\\n--\\n'
`,
  );
  await Deno.chmod(tool, 0o755);
  const { validateConfig } = await import("../src/config/schema.ts");
  const { runJob } = await import("../src/backup/run.ts");
  const { listDumps } = await import("../src/backup/files.ts");
  const v = validateConfig({
    backups: [{
      name: "fake",
      type: "postgres",
      url: "postgres://u@127.0.0.1:1/db",
      tool,
      dir: `${dir.path}/local`,
      copy_to: `${dir.path}/remote`,
      retention: { keep_last: 2, keep_min: 1 },
    }],
  });
  assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
  const job = v.config.backups[0];
  const now = () => Date.UTC(2026, 10, 26, 3, 0, 0, 400);
  for (let i = 0; i < 3; i++) {
    const r = await runJob(job, { now });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepStrictEqual(r.removed.length, i < 2 ? 0 : 2);
  }
  for (const where of ["local", "remote"]) {
    const dumps = await listDumps(`${dir.path}/${where}/fake`);
    assert.deepStrictEqual(
      dumps.map((d) => d.manifest.file),
      ["20261126T030002Z-db.sql.gz", "20261126T030001Z-db.sql.gz"],
      where,
    );
    assert.deepStrictEqual(dumps[0].manifest.tables, { "public.t": 2 });
    assert.deepStrictEqual(dumps[0].manifest.verify?.ok, true);
  }
});
