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

/**
 * SQLSTATE classes a record's own data causes: data exceptions (22: a
 * value its column cannot hold), integrity constraints (23), program limits
 * (54: a row or index entry too large), and exceptions raised by triggers (P0).
 */
const REFUSED_CLASSES = new Set(["22", "23", "54", "P0"]);

/** SQLSTATEs and socket codes that mean "no room to write". */
const FULL = new Set([
  "53100", // disk_full
  "ENOSPC",
]);

/** Reject with a CONNECT_TIMEOUT error when `work` takes longer than `ms`. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: "CONNECT_TIMEOUT" }));
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolve when a TCP connection to the server of `url` opens within `ms`
 * (a Unix-socket URL is taken as reachable); reject with the socket's code.
 */
async function reachable(url: URL, ms: number): Promise<void> {
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  if (!hostname || url.searchParams.get("host")?.startsWith("/")) return;
  const connecting = Deno.connect({ hostname, port: Number(url.port || 5432) });
  try {
    (await withDeadline(connecting, ms)).close();
  } catch (err) {
    connecting.then((c) => c.close(), () => {});
    const code = err instanceof Deno.errors.ConnectionRefused
      ? "ECONNREFUSED"
      : (err as { code?: string }).code ?? "ECONNREFUSED";
    throw Object.assign(new Error(`${url.host}: ${(err as Error).message}`), { code });
  }
}

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
  // postgres.js reconnects a reserved connection whose session died and runs
  // the rest of a transaction's statements there, COMMIT included: the
  // server then warns that no transaction is in progress. Counted here.
  let commitsWithoutTransaction = 0;
  const client = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeout ?? 5,
    // Reconnect soon after an outage (the default backs off to 20 s).
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 2),
    idle_timeout: 60,
    // "there is no transaction in progress" on a COMMIT: see transactionGuard.
    onnotice: (notice: { code?: string }) => {
      if (notice.code === "25P01") commitsWithoutTransaction++;
    },
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
    capabilities: {
      percentiles: true,
      likeOperator: "ilike",
      maxParameters: 65_000,
      sumFunction: "sum",
    },
    searchSids(text) {
      const pattern = `%${text.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
      return sql`SELECT sid FROM run_search WHERE text ILIKE ${pattern} ESCAPE '\\'`;
    },
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
          AND s.relname IN ('runs', 'nodes', 'spans', 'probe_results', 'blobs', 'run_blobs',
                            'run_search', 'span_blobs')
      `.execute(db);
      return Number(rows[0]?.bytes ?? 0);
    },
    reclaim() {
      // autovacuum makes freed space reusable; nothing to hand back by hand.
      return Promise.resolve();
    },
    classify(err) {
      const code = String((err as { code?: unknown })?.code ?? "");
      if (FULL.has(code)) return "full";
      // Refused only for what a record's own data causes; anything else
      // (a connection error, a restart, a deadlock) is tried again later.
      return REFUSED_CLASSES.has(code.slice(0, 2)) && !UNAVAILABLE.has(code)
        ? "refused"
        : "unavailable";
    },
    transactionGuard() {
      const at = commitsWithoutTransaction;
      return { lost: () => commitsWithoutTransaction !== at };
    },
    async ping() {
      // A query sent while the server is down waits in postgres.js, retrying
      // the connection with backoff: knock on the port first, and give the
      // round trip its own deadline.
      await reachable(u, 2_000);
      const query = client`SELECT 1`;
      try {
        await withDeadline(query.execute(), 3_000);
      } catch (err) {
        query.cancel(); // leave no query waiting in the pool for a server that hangs
        throw err;
      }
    },
    async close() {
      // Queries still waiting (on a database that is gone) get 5 s, then are cancelled.
      await client.end({ timeout: 5 });
      await db.destroy();
    },
  });
}
