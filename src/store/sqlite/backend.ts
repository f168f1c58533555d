/**
 * The SQLite backend: Deno's `node:sqlite` under Kysely's `SqliteDialect`,
 * in WAL mode with incremental auto-vacuum, so space freed by retention goes
 * back to the filesystem and the file stays within the disk budget.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { Kysely, sql, type SqliteDatabase, SqliteDialect, type SqliteStatement } from "kysely";
import type { Database } from "../schema.ts";
import type { StoreBackend } from "../backend.ts";

/**
 * SQLite result codes (primary, the low byte) a record's own data causes:
 * TOOBIG, CONSTRAINT, MISMATCH, RANGE. Any other code (BUSY, LOCKED, IOERR,
 * CANTOPEN, ...) is tried again later.
 */
const REFUSED_CODES = new Set([18, 19, 20, 25]);
/** SQLITE_FULL: the disk (or the file's limit) is full. */
const SQLITE_FULL = 13;
const STATEMENT_CACHE = 256;
/** What Kysely runs to abandon a transaction. */
const ROLLBACK = /^\s*rollback\s*;?\s*$/i;

/** Adapt `node:sqlite` to the database shape Kysely's `SqliteDialect` drives. */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly raw: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();

  constructor(raw: DatabaseSync) {
    this.raw = raw;
  }

  close(): void {
    this.#cache.clear();
    if (this.raw.isOpen) this.raw.close();
  }

  prepare(sql: string): SqliteStatement {
    if (ROLLBACK.test(sql) && !this.raw.isTransaction) {
      // SQLite already rolled back on its own (SQLITE_FULL, IOERR): a second
      // ROLLBACK would fail and hide the error that caused it.
      return {
        reader: false,
        all: () => [],
        run: () => ({ changes: 0, lastInsertRowid: 0 }),
        iterate: () => [][Symbol.iterator](),
      };
    }
    let stmt = this.#cache.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      if (this.#cache.size >= STATEMENT_CACHE) {
        this.#cache.delete(this.#cache.keys().next().value!);
      }
      this.#cache.set(sql, stmt);
    }
    const s = stmt;
    return {
      reader: s.columns().length > 0,
      all: (params) => s.all(...(params as never[])).map((row) => ({ ...row })),
      run: (params) => s.run(...(params as never[])),
      iterate: (params) => {
        const it = s.iterate(...(params as never[]));
        return (function* () {
          for (const row of it) yield { ...row };
        })();
      },
    };
  }
}

/**
 * Open (creating it and its directory if need be) the SQLite file `sqlite:PATH`.
 *
 * @throws {Error} when the file cannot be opened.
 */
export async function openSqlite(url: string): Promise<StoreBackend> {
  const path = url.replace(/^sqlite:(\/\/)?/i, "");
  if (path !== ":memory:") await Deno.mkdir(dirname(path), { recursive: true });
  const raw = new DatabaseSync(path);
  try {
    // auto_vacuum takes effect only before the first table is created.
    raw.exec("PRAGMA auto_vacuum = INCREMENTAL");
    raw.exec("PRAGMA journal_mode = WAL");
    raw.exec("PRAGMA synchronous = NORMAL");
    raw.exec("PRAGMA busy_timeout = 5000");
    raw.exec("PRAGMA temp_store = MEMORY");
    raw.exec("PRAGMA cache_size = -32000");
  } catch (err) {
    raw.close();
    throw err;
  }
  const database = new NodeSqliteDatabase(raw);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const pragma = (name: string) =>
    Number(Object.values(raw.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
  return {
    kind: "sqlite",
    where: `sqlite:${path}`,
    db,
    capabilities: {
      percentiles: false,
      likeOperator: "like",
      maxParameters: 32_000,
      sumFunction: "total",
    },
    searchSids(text) {
      // A quoted phrase on the trigram FTS table is a substring match from
      // its index (a LIKE with an ESCAPE clause would scan).
      const phrase = `"${text.replaceAll('"', '""')}"`;
      return sql`SELECT sid FROM run_search WHERE rowid IN (
        SELECT rowid FROM run_search_fts WHERE run_search_fts MATCH ${phrase})`;
    },
    size() {
      return Promise.resolve(
        (pragma("page_count") - pragma("freelist_count")) * pragma("page_size") + walSize(path),
      );
    },
    reclaim() {
      // Each row this pragma yields is one page freed: step through them all.
      if (pragma("freelist_count") > 0) raw.prepare("PRAGMA incremental_vacuum").all();
      raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      return Promise.resolve();
    },
    classify(err) {
      const code = (err as { errcode?: number })?.errcode;
      if (typeof code === "number") {
        const primary = code & 0xff;
        if (primary === SQLITE_FULL) return "full";
        return REFUSED_CODES.has(primary) ? "refused" : "unavailable";
      }
      if ((err as { code?: string })?.code === "ENOSPC") return "full";
      // No SQLite code: a value node:sqlite cannot bind is the record's; else try again.
      return err instanceof TypeError || err instanceof RangeError ? "refused" : "unavailable";
    },
    ping() {
      raw.prepare("SELECT 1").get();
      return Promise.resolve();
    },
    async close() {
      await db.destroy();
    },
  };
}

function walSize(path: string): number {
  try {
    return Deno.statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}
