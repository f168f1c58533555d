/**
 * Checking a dump, and loading one:
 * - `structure`: the file's sha256 is the manifest's, it decompresses, and
 *   the dump inside ends with its completion marker and carries the rows
 *   the manifest lists;
 * - `restore`: the dump is loaded into a scratch database
 *   (`astron_watch_verify_…`, on the job's server or `verify_url`), its
 *   tables' row counts are compared with the dump's snapshot, and the
 *   scratch database is dropped;
 * - {@linkcode restoreDump}: the same load into a database a person names
 *   (`backup restore FILE --to URL --yes`), which must be new or empty.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { BackupType } from "../config/backups.ts";
import { errorMessage } from "../errors.ts";
import type { Manifest } from "./files.ts";
import { type DumpFacts, DumpScanner } from "./scan.ts";
import { runTool } from "./spawn.ts";
import {
  countSql,
  type Endpoint,
  loadCommand,
  queryCommand,
  quoteIdent,
  type ToolCommand,
} from "./tools.ts";

/** A check's outcome. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

/** The dump's bytes, decompressed when its name ends in `.gz`. */
function sqlStream(path: string, file: Deno.FsFile): ReadableStream<Uint8Array> {
  return path.endsWith(".gz")
    ? file.readable.pipeThrough(
      new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
    )
    : file.readable;
}

/** Check a dump's hash, compression, completion marker and row counts against its manifest. */
export async function verifyStructure(
  path: string,
  manifest: Manifest | undefined,
  type?: BackupType,
): Promise<CheckResult & { facts?: DumpFacts }> {
  const engine = manifest?.type ?? type ?? "postgres";
  const hash = createHash("sha256");
  const scanner = new DumpScanner(engine);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (err) {
    return { ok: false, detail: `cannot read ${path}: ${errorMessage(err)}` };
  }
  try {
    const hashed = file.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          hash.update(chunk);
          c.enqueue(chunk);
        },
      }),
    );
    const sql = path.endsWith(".gz")
      ? hashed.pipeThrough(
        new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
      )
      : hashed;
    for await (const chunk of sql) scanner.push(chunk);
  } catch (err) {
    // Name a changed file as such: hash it whole before blaming the gzip stream.
    const sha = await sha256Of(path).catch(() => undefined);
    if (manifest && sha && sha !== manifest.sha256) {
      return { ok: false, detail: `sha256 ${sha} is not the manifest's ${manifest.sha256}` };
    }
    return { ok: false, detail: `${path} does not decompress: ${errorMessage(err)}` };
  }
  const facts = scanner.end();
  const sha = hash.digest("hex");
  if (manifest && sha !== manifest.sha256) {
    return { ok: false, detail: `sha256 ${sha} is not the manifest's ${manifest.sha256}`, facts };
  }
  if (!facts.complete) {
    return { ok: false, detail: "the dump does not end with its completion marker", facts };
  }
  if (manifest) {
    const diff = compareCounts(manifest.tables, facts.tables);
    if (diff) {
      return { ok: false, detail: `the dump's rows differ from the manifest: ${diff}`, facts };
    }
  }
  const tables = Object.keys(facts.tables).length;
  const rows = Object.values(facts.tables).reduce((a, b) => a + b, 0);
  return {
    ok: true,
    detail: `sha256 ${manifest ? "matches" : sha}, ${tables} tables, ${rows} rows, complete`,
    facts,
  };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Load the dump into a scratch database, compare row counts, drop it. */
export async function verifyRestore(
  path: string,
  manifest: Manifest,
  endpoint: Endpoint,
  timeout: number,
): Promise<CheckResult> {
  const scratch = `astron_watch_verify_${manifest.job}_${manifest.file.slice(0, 16)}`
    .toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 63);
  const loaded = await restoreDump(path, endpoint, scratch, { timeout, scratch: true });
  try {
    if (!loaded.ok) return loaded;
    const counts = await countRows(endpoint, scratch, Object.keys(manifest.tables), timeout);
    if (!counts.ok) return { ok: false, detail: counts.error };
    const diff = compareCounts(manifest.tables, counts.rows);
    if (diff) return { ok: false, detail: `restored rows differ from the dump's: ${diff}` };
    const rows = Object.values(counts.rows).reduce((a, b) => a + b, 0);
    return {
      ok: true,
      detail:
        `restored into ${scratch}: ${Object.keys(counts.rows).length} tables, ${rows} rows, ` +
        "counts equal the dump's snapshot",
    };
  } finally {
    await dropDatabase(endpoint, scratch, timeout);
  }
}

/** Options for {@linkcode restoreDump}. */
export interface RestoreOptions {
  timeout: number;
  /** A scratch database: dropped first if a verification left one. */
  scratch?: boolean;
}

/**
 * Load a dump into `database` on `endpoint`: created when missing; refused
 * when it already holds tables.
 */
export async function restoreDump(
  path: string,
  endpoint: Endpoint,
  database: string,
  o: RestoreOptions,
): Promise<CheckResult> {
  if (o.scratch) await dropDatabase(endpoint, database, o.timeout);
  const exists = await query(endpoint, undefined, databaseExistsSql(endpoint.type, database), o);
  if ("error" in exists) return { ok: false, detail: exists.error };
  if (exists.rows.length) {
    const tables = await query(endpoint, database, tableCountSql(endpoint.type), o);
    if ("error" in tables) return { ok: false, detail: tables.error };
    const n = Number(tables.rows[0]?.[0] ?? 0);
    if (n > 0) {
      return {
        ok: false,
        detail: `database ${database} already holds ${n} tables; restore into a new or empty one`,
      };
    }
  } else {
    const created = await query(
      endpoint,
      undefined,
      `CREATE DATABASE ${quoteIdent(endpoint.type, database)}`,
      o,
    );
    if ("error" in created) return { ok: false, detail: created.error };
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (err) {
    return { ok: false, detail: `cannot read ${path}: ${errorMessage(err)}` };
  }
  const run = await runTool(loadCommand(endpoint, database), {
    timeout: o.timeout,
    stdin: sqlStream(path, file),
    stdout: async (out) => {
      await out.pipeTo(new WritableStream());
    },
  });
  if (!run.ok) return { ok: false, detail: `loading into ${database}: ${run.error}` };
  return { ok: true, detail: `loaded into ${database}` };
}

/** Row counts of `tables` in `database`. */
export async function countRows(
  endpoint: Endpoint,
  database: string,
  tables: string[],
  timeout: number,
): Promise<{ ok: true; rows: Record<string, number> } | { ok: false; error: string }> {
  const out: Record<string, number> = {};
  for (let i = 0; i < tables.length; i += 200) {
    const part = tables.slice(i, i + 200);
    const r = await query(endpoint, database, countSql(endpoint.type, part), { timeout });
    if ("error" in r) return { ok: false, error: r.error };
    for (const [t, n] of r.rows) out[t] = Number(n);
  }
  return { ok: true, rows: out };
}

async function dropDatabase(endpoint: Endpoint, database: string, timeout: number) {
  const sql = endpoint.type === "postgres"
    ? `DROP DATABASE IF EXISTS ${quoteIdent("postgres", database)} WITH (FORCE)`
    : `DROP DATABASE IF EXISTS ${quoteIdent("mysql", database)}`;
  await query(endpoint, undefined, sql, { timeout });
}

function databaseExistsSql(type: BackupType, database: string): string {
  const lit = `'${database.replaceAll("'", "''")}'`;
  return type === "postgres"
    ? `SELECT 1 FROM pg_database WHERE datname = ${lit}`
    : `SELECT 1 FROM information_schema.schemata WHERE schema_name = ${lit}`;
}

function tableCountSql(type: BackupType): string {
  return type === "postgres"
    ? "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    : "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()";
}

async function query(
  endpoint: Endpoint,
  database: string | undefined,
  sql: string,
  o: { timeout: number },
): Promise<{ rows: string[][] } | { error: string }> {
  const c: ToolCommand = queryCommand(endpoint, database, sql);
  const r = await runTool(c, { timeout: o.timeout });
  if (!r.ok) return { error: r.error ?? "query failed" };
  return { rows: r.stdout.split("\n").filter((l) => l).map((l) => l.split("\t")) };
}

/** `public.t: 10 != 12, …` for counts that differ, or "" when equal. */
function compareCounts(want: Record<string, number>, got: Record<string, number>): string {
  const diffs: string[] = [];
  for (const t of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if ((want[t] ?? -1) !== (got[t] ?? -1)) {
      diffs.push(`${t}: ${want[t] ?? "missing"} in the dump, ${got[t] ?? "missing"} here`);
    }
  }
  return diffs.slice(0, 5).join("; ") + (diffs.length > 5 ? `; ${diffs.length - 5} more` : "");
}
