/**
 * bench/backup: `astron-watch backup now` against the shell pipeline the
 * platform's guide implies (`pg_dump DB | gzip > FILE`, the baseline,
 * measured in the same run) on one PostgreSQL database of about `--mb`
 * megabytes (default 1024).
 *
 *   deno run -A bench/backup.ts [--mb 1024] [--runs 2] [--url postgres://...]
 *
 * Without `--url` a throwaway cluster is started (tests/support/postgres.ts)
 * and filled with `--mb` of rows (an id, a timestamp, a 32-char hex text
 * and a 100-char random-ish text per row). Each tool runs `--runs` times,
 * alternating, as a child process under `/usr/bin/time -f %M` (peak RSS);
 * our run is `verify: none`, so both do the same work: dump, gzip (level
 * 6 both), write. Prints a markdown table (tool, seconds, MB/s of the
 * database, output MB, peak RSS MB) and the ratio ours/pipeline of wall time.
 */

import { parseArgs } from "node:util";
import postgres from "postgres";
import { startCluster, stopCluster } from "../tests/support/postgres.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mb: { type: "string", default: "1024" },
    runs: { type: "string", default: "2" },
    url: { type: "string" },
  },
});
const MB = Number(values.mb);
const RUNS = Number(values.runs);
const ROOT = new URL("../", import.meta.url).pathname;
const TIME = "/usr/bin/time";

const tmp = await Deno.makeTempDir({ prefix: "astron-watch-bench-backup-" });
await Deno.chmod(tmp, 0o755);
let url = values.url;
let stop = async () => {};
if (!url) {
  const bin = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort().at(-1);
  const binDir = `/usr/lib/postgresql/${bin}/bin`;
  url = await startCluster(binDir, `${tmp}/pg`);
  stop = () => stopCluster(binDir, `${tmp}/pg`);
}
const db = "bench_backup";
try {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${db}`);
  await admin.unsafe(`CREATE DATABASE ${db}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${db}`;
  const sql = postgres(u.href, { max: 1, onnotice: () => {} });
  await sql.unsafe(
    "CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz, sid text, body text)",
  );
  const rows = Math.round(MB * 1024 * 1024 / 190);
  console.error(`filling ${db} with ${rows} rows (~${MB} MB)...`);
  const step = 1_000_000;
  for (let from = 1; from <= rows; from += step) {
    await sql.unsafe(
      `INSERT INTO events SELECT g, now() - g * interval '1 second', md5(g::text),
         repeat(md5((g * 7)::text), 3) || substr(md5((g * 13)::text), 1, 4)
       FROM generate_series(${from}, ${Math.min(rows, from + step - 1)}) g`,
    );
  }
  const [{ size }] = await sql`SELECT pg_database_size(${db})::bigint AS size`;
  await sql.end();
  const dbMb = Number(size) / 1048576;
  console.error(`database size ${dbMb.toFixed(0)} MB`);

  const conn = `-h ${u.hostname} -p ${u.port} -U ${decodeURIComponent(u.username)}`;
  const config = `${tmp}/c.yaml`;
  await Deno.writeTextFile(
    config,
    `log: { stderr: never }
backups:
  - name: bench
    type: postgres
    url: ${u.href}
    dir: ${tmp}/out
    verify: none
    retention: { keep_last: 1, keep_min: 1 }
`,
  );
  const tools = [
    {
      name: "shell: pg_dump DB \\| gzip > FILE",
      cmd: `pg_dump ${conn} ${db} | gzip > ${tmp}/pipe.sql.gz`,
      out: async () => (await Deno.stat(`${tmp}/pipe.sql.gz`)).size,
    },
    {
      name: "astron-watch backup now",
      cmd: `deno run -A ${ROOT}main.ts backup now bench -c ${config} > /dev/null`,
      out: async () => {
        let n = 0;
        for await (const e of Deno.readDir(`${tmp}/out/bench`)) {
          if (e.name.endsWith(".sql.gz")) n = (await Deno.stat(`${tmp}/out/bench/${e.name}`)).size;
        }
        return n;
      },
    },
  ];
  const results = new Map<string, { s: number[]; rss: number[]; out: number }>();
  for (let i = 0; i < RUNS; i++) {
    for (const t of tools) {
      const t0 = performance.now();
      // `%M` of the pipeline is the largest of bash's children (pg_dump, gzip).
      const r = await new Deno.Command(TIME, {
        args: ["-f", "%M", "bash", "-o", "pipefail", "-c", t.cmd],
        stderr: "piped",
      }).output();
      const s = (performance.now() - t0) / 1000;
      const err = new TextDecoder().decode(r.stderr).trim().split("\n");
      if (!r.success) throw new Error(`${t.name} failed: ${err.join(" ")}`);
      const e = results.get(t.name) ?? { s: [], rss: [], out: 0 };
      e.s.push(s);
      e.rss.push(Number(err.at(-1)) / 1024);
      e.out = await t.out();
      results.set(t.name, e);
      console.error(`${t.name}: ${s.toFixed(1)} s`);
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(`\n${dbMb.toFixed(0)} MB database, best of ${RUNS} runs each\n`);
  console.log("| tool | seconds | database MB/s | output MB | peak RSS MB |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const [name, r] of results) {
    console.log(
      `| ${name} | ${best(r.s).toFixed(1)} | ${(dbMb / best(r.s)).toFixed(0)} | ${
        (r.out / 1048576).toFixed(0)
      } | ${Math.max(...r.rss).toFixed(0)} |`,
    );
  }
  const pipe = results.get(tools[0].name)!;
  const ours = results.get(tools[1].name)!;
  console.log(
    `\nours / pipeline wall time: ${(best(ours.s) / best(pipe.s)).toFixed(2)}x ` +
      `(goal <= 1.10), our peak RSS ${Math.max(...ours.rss).toFixed(0)} MB (goal < 100)`,
  );
} finally {
  await stop().catch(() => {});
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
