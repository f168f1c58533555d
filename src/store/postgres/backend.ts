/**
 * The PostgreSQL backend: postgres.js under Kysely through
 * `kysely-postgres-js`. `BIGINT` values (times, counts) arrive as numbers.
 *
 * @module
 */

import postgres from "postgres";
import { Kysely, sql } from "kysely";
import { PostgresJSDialect } from "kysely-postgres-js";
import type { Database } from "../schema.ts";
import type { StoreBackend } from "../backend.ts";

/** Error codes (socket codes, postgres.js codes, SQLSTATEs) that mean "cannot be reached now". */
const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** Options for {@linkcode openPostgres}. */
export interface PostgresOptions {
  /** Pool size (default 10). */
  max?: number;
  /** Seconds to wait for a connection (default 5). */
  connectTimeout?: number;
}

/**
 * Connect to the PostgreSQL `url` (`postgres://user:pass@host:5432/db`).
 * Connections are made lazily, so this succeeds while the server is down;
 * the first query tells.
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Promise<StoreBackend> {
  const client = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeout ?? 5,
    idle_timeout: 60,
    onnotice: () => {},
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (x: unknown) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: client }) });
  const u = new URL(url);
  return Promise.resolve({
    kind: "postgres",
    where: `postgres://${u.host}${u.pathname}`,
    db,
    capabilities: { percentiles: true, likeOperator: "ilike", maxParameters: 65_000 },
    async size() {
      // Deleted rows keep their pages until VACUUM reuses them, so count the
      // live share of each table (and its indexes and TOAST) only.
      const { rows } = await sql<{ bytes: number }>`
        SELECT coalesce(sum(
          pg_total_relation_size(s.relid)::float8 * s.n_live_tup
            / greatest(s.n_live_tup + s.n_dead_tup, 1)
        ), 0)::bigint AS bytes
        FROM pg_stat_user_tables s
        WHERE s.schemaname = current_schema()
          AND s.relname IN ('runs', 'nodes', 'spans', 'probe_results', 'blobs', 'run_blobs')
      `.execute(db);
      return Number(rows[0]?.bytes ?? 0);
    },
    reclaim() {
      // autovacuum makes freed space reusable; nothing to hand back by hand.
      return Promise.resolve();
    },
    isUnavailable(err) {
      const code = String((err as { code?: unknown })?.code ?? "");
      return UNAVAILABLE.has(code) || code.startsWith("08");
    },
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  });
}
