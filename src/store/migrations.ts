/**
 * The trace store's schema, as migrations embedded in code (the compiled
 * binary carries no files beside it). The same migrations serve SQLite and
 * PostgreSQL; each runs once, in name order, recorded by Kysely's `Migrator`.
 *
 * @module
 */

import { type Kysely, sql, SqliteAdapter } from "kysely";
import { type Migration, type MigrationResult, Migrator } from "kysely/migration";
import { errorMessage } from "../errors.ts";

// deno-lint-ignore no-explicit-any
type AnyDb = Kysely<any>;

/** Which database a migration runs on, for the few statements that differ. */
function dialectOf(db: AnyDb): "sqlite" | "postgres" {
  return db.getExecutor().adapter instanceof SqliteAdapter ? "sqlite" : "postgres";
}

/** Every migration, by name; names sort in the order they run. */
export const MIGRATIONS: Record<string, Migration> = {
  "0001_traces": {
    async up(db: AnyDb) {
      await db.schema.createTable("runs")
        .addColumn("sid", "text", (c) => c.primaryKey())
        .addColumn("app_id", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("uid", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("chat_id", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("status_code", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("is_error", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("start_time", "bigint", (c) => c.notNull())
        .addColumn("end_time", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("duration", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("first_frame_duration", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("question_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("prompt_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("completion_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("total_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("node_count", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("question", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("size_bytes", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("ingested_at", "bigint", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .execute();
      // List pages walk (start_time, sid) backwards, optionally within one filter value.
      await db.schema.createIndex("runs_time").on("runs").columns(["start_time", "sid"]).execute();
      for (const col of ["app_id", "uid", "chat_id", "is_error"]) {
        await db.schema.createIndex(`runs_${col}_time`).on("runs")
          .columns([col, "start_time", "sid"]).execute();
      }

      await db.schema.createTable("nodes")
        .addColumn("sid", "text", (c) => c.notNull())
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("node_id", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("node_type", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("start_time", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("end_time", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("duration", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("ok", "integer", (c) => c.notNull().defaultTo(1))
        .addColumn("prompt_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("completion_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("total_tokens", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("record", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("nodes_pk", ["sid", "idx"])
        .execute();
      await db.schema.createIndex("nodes_time").on("nodes").columns(["start_time"]).execute();

      await db.schema.createTable("spans")
        .addColumn("trace_id", "text", (c) => c.notNull())
        .addColumn("span_id", "text", (c) => c.notNull())
        .addColumn("parent_span_id", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("sid", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("name", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("service_name", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("start_time", "bigint", (c) => c.notNull())
        .addColumn("end_time", "bigint", (c) => c.notNull())
        .addColumn("status_code", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("spans_pk", ["trace_id", "span_id"])
        .execute();
      await db.schema.createIndex("spans_sid").on("spans").columns(["sid", "start_time"]).execute();
      await db.schema.createIndex("spans_time").on("spans").columns(["start_time"]).execute();

      await db.schema.createTable("probe_results")
        .addColumn("probe", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("ok", "integer", (c) => c.notNull())
        .addColumn("duration_ms", "float8", (c) => c.notNull().defaultTo(0))
        .addColumn("reason", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("record", "text", (c) => c.notNull().defaultTo("{}"))
        .execute();
      await db.schema.createIndex("probe_results_probe_at").on("probe_results")
        .columns(["probe", "at"]).execute();
      await db.schema.createIndex("probe_results_at").on("probe_results").columns(["at"])
        .execute();

      await db.schema.createTable("blobs")
        .addColumn("hash", "text", (c) => c.primaryKey())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createTable("run_blobs")
        .addColumn("sid", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("run_blobs_pk", ["sid", "hash"])
        .execute();
      await db.schema.createIndex("run_blobs_hash").on("run_blobs").columns(["hash"]).execute();
    },
    async down(db: AnyDb) {
      for (const t of ["run_blobs", "blobs", "probe_results", "spans", "nodes", "runs"]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  },
  "0002_node_order": {
    async up(db: AnyDb) {
      // Each node's place in execution order, decided at ingest, so a run's
      // nodes can be read a page at a time.
      await db.schema.alterTable("nodes").addColumn("ord", "integer").execute();
      await db.schema.createIndex("nodes_sid_ord").on("nodes").columns(["sid", "ord"]).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex("nodes_sid_ord").execute();
      await db.schema.alterTable("nodes").dropColumn("ord").execute();
    },
  },
  "0004_search": {
    async up(db: AnyDb) {
      // Runs with an ERROR node log, listed by time (log_level=error).
      await db.schema.alterTable("runs")
        .addColumn("error_log", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.createIndex("runs_error_log_time").on("runs")
        .columns(["error_log", "start_time", "sid"]).execute();
      // The text q= searches, one row per run; a substring index beside it:
      // trigrams in SQLite's FTS5 and PostgreSQL's pg_trgm, so any language
      // (Chinese included) matches from three characters.
      await db.schema.createTable("run_search")
        .addColumn("sid", "text", (c) => c.primaryKey())
        .addColumn("text", "text", (c) => c.notNull())
        .execute();
      // Runs stored before this: their sid and question are searchable.
      await sql`INSERT INTO run_search (sid, text) SELECT sid, sid || ' ' || question FROM runs`
        .execute(db);
      if (dialectOf(db) === "sqlite") {
        await sql`CREATE VIRTUAL TABLE run_search_fts USING fts5(
          text, content='run_search', content_rowid='rowid', tokenize='trigram')`.execute(db);
        await sql`CREATE TRIGGER run_search_ai AFTER INSERT ON run_search BEGIN
          INSERT INTO run_search_fts(rowid, text) VALUES (new.rowid, new.text); END`.execute(db);
        await sql`CREATE TRIGGER run_search_ad AFTER DELETE ON run_search BEGIN
          INSERT INTO run_search_fts(run_search_fts, rowid, text)
          VALUES ('delete', old.rowid, old.text); END`.execute(db);
        await sql`INSERT INTO run_search_fts(run_search_fts) VALUES ('rebuild')`.execute(db);
      } else {
        // pg_trgm is a trusted extension (a database owner may create it);
        // where it cannot be had, q= still works, by a scan.
        await sql`SAVEPOINT trgm`.execute(db);
        try {
          await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
          await sql`CREATE INDEX run_search_trgm ON run_search USING gin (text gin_trgm_ops)`
            .execute(db);
          await sql`RELEASE SAVEPOINT trgm`.execute(db);
        } catch {
          await sql`ROLLBACK TO SAVEPOINT trgm`.execute(db);
        }
      }
    },
    async down(db: AnyDb) {
      if (dialectOf(db) === "sqlite") {
        await sql`DROP TABLE IF EXISTS run_search_fts`.execute(db);
      }
      await db.schema.dropTable("run_search").ifExists().execute();
      await db.schema.dropIndex("runs_error_log_time").ifExists().execute();
      await db.schema.alterTable("runs").dropColumn("error_log").execute();
    },
  },
  "0005_metric_rollups": {
    async up(db: AnyDb) {
      // Received platform metrics, one row per series per minute (src/rollups/).
      await db.schema.createTable("metric_series")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("unit", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("labels", "text", (c) => c.notNull())
        .addColumn("bounds", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("first_seen", "bigint", (c) => c.notNull())
        .addColumn("last_seen", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("metric_series_name").on("metric_series")
        .columns(["name", "service"]).execute();
      await db.schema.createIndex("metric_series_seen").on("metric_series")
        .columns(["last_seen"]).execute();
      await db.schema.createTable("metric_rollups")
        .addColumn("series_id", "text", (c) => c.notNull())
        .addColumn("minute", "bigint", (c) => c.notNull())
        .addColumn("value", "float8", (c) => c.notNull().defaultTo(0))
        .addColumn("sum", "float8", (c) => c.notNull().defaultTo(0))
        .addColumn("counts", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("metric_rollups_pk", ["series_id", "minute"])
        .execute();
      await db.schema.createIndex("metric_rollups_minute").on("metric_rollups")
        .columns(["minute"]).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable("metric_rollups").ifExists().execute();
      await db.schema.dropTable("metric_series").ifExists().execute();
    },
  },
  "0006_span_blobs": {
    async up(db: AnyDb) {
      // Span values over 10 KiB live in blobs too (as the platform offloads
      // span events); these links keep them from garbage collection.
      await db.schema.createTable("span_blobs")
        .addColumn("trace_id", "text", (c) => c.notNull())
        .addColumn("span_id", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("span_blobs_pk", ["trace_id", "span_id", "hash"])
        .execute();
      await db.schema.createIndex("span_blobs_hash").on("span_blobs").columns(["hash"]).execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable("span_blobs").ifExists().execute();
    },
  },
  "0007_alerts": {
    async up(db: AnyDb) {
      await db.schema.createTable("alert_instances")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("rule", "text", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createTable("alert_events")
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("rule", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("severity", "text", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("alert_events_at").on("alert_events").columns(["at"]).execute();
      await db.schema.createTable("silences")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("matchers", "text", (c) => c.notNull())
        .addColumn("starts_at", "bigint", (c) => c.notNull())
        .addColumn("ends_at", "bigint", (c) => c.notNull())
        .addColumn("author", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("silences_ends").on("silences").columns(["ends_at"]).execute();
    },
    async down(db: AnyDb) {
      for (const t of ["silences", "alert_events", "alert_instances"]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  },
  "0008_host_logs": {
    async up(db: AnyDb) {
      await db.schema.createTable("tail_positions")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("ino", "text", (c) => c.notNull())
        .addColumn("head", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("offset", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("tail_positions_pk", ["source", "key"])
        .execute();
      await db.schema.createTable("access_minutes")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("minute", "bigint", (c) => c.notNull())
        .addColumn("route", "text", (c) => c.notNull())
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("requests", "bigint", (c) => c.notNull())
        .addColumn("bytes", "bigint", (c) => c.notNull())
        .addColumn("time_sum", "float8", (c) => c.notNull().defaultTo(0))
        .addColumn("time_count", "bigint", (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint("access_minutes_pk", [
          "source",
          "minute",
          "route",
          "method",
          "status",
        ])
        .execute();
      await db.schema.createIndex("access_minutes_minute").on("access_minutes")
        .columns(["minute"]).execute();
      await db.schema.createTable("access_hours")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("hour", "bigint", (c) => c.notNull())
        .addColumn("summary", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("access_hours_pk", ["source", "hour"])
        .execute();
      await db.schema.createTable("service_log_minutes")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("file", "text", (c) => c.notNull())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("minute", "bigint", (c) => c.notNull())
        .addColumn("lines", "bigint", (c) => c.notNull())
        .addColumn("matches", "bigint", (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint("service_log_minutes_pk", ["source", "file", "level", "minute"])
        .execute();
      await db.schema.createIndex("service_log_minutes_minute").on("service_log_minutes")
        .columns(["minute"]).execute();
      await db.schema.createTable("service_log_lines")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("file", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("sid", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("example", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("line", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("service_log_lines_at").on("service_log_lines")
        .columns(["at"]).execute();
      await db.schema.createIndex("service_log_lines_sid").on("service_log_lines")
        .columns(["sid"]).execute();
    },
    async down(db: AnyDb) {
      for (
        const t of [
          "service_log_lines",
          "service_log_minutes",
          "access_hours",
          "access_minutes",
          "tail_positions",
        ]
      ) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  },
  "0009_tail_positions_ended": {
    async up(db: AnyDb) {
      await db.schema.alterTable("tail_positions")
        .addColumn("ended", "text", (c) => c.notNull().defaultTo(""))
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.alterTable("tail_positions").dropColumn("ended").execute();
    },
  },
};

/** One migration's outcome, as Kysely's `MigrationResult`. */
export type { MigrationResult };

/** The outcome of {@linkcode migrateToLatest}: never thrown, always returned. */
export interface MigrateResult {
  /** Why migrating stopped, if it did. */
  error?: string;
  /** The error behind `error`, for the backend to classify. */
  cause?: unknown;
  /** Each migration attempted: `Success`, `Error` or `NotExecuted`. */
  results: MigrationResult[];
}

/**
 * Bring the schema to the latest migration. Never throws: a failure comes
 * back as `error`, with the steps that ran (kysely's `migrateToLatest` shape).
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * const backend = await openBackend("sqlite::memory:");
 * const { error, results } = await migrateToLatest(backend.db);
 * if (error) throw new Error(`store migration failed: ${error}`);
 * ```
 */
export async function migrateToLatest(db: AnyDb): Promise<MigrateResult> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
    migrationTableName: "store_migrations",
    migrationLockTableName: "store_migrations_lock",
  });
  try {
    const { error, results } = await migrator.migrateToLatest();
    if (error === undefined) return { results: results ?? [] };
    return { error: errorMessage(error), cause: error, results: results ?? [] };
  } catch (err) {
    return { error: errorMessage(err), cause: err, results: [] };
  }
}
