/**
 * What the store needs from a database, whichever it is: a Kysely instance
 * over the shared schema, and the few things that differ between backends
 * expressed as capability flags and methods (as Kysely's own
 * `DialectAdapter.supportsReturning`), never as `if (kind === ...)` in callers.
 *
 * @module
 */

import type { Kysely, RawBuilder } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Why a write failed, as the store acts on it: `unavailable` (spool and
 * retry), `full` (the database's disk is full: refuse, retry later),
 * `refused` (the database will never take this data as it is).
 */
export type StoreFailure = "unavailable" | "full" | "refused";

/** What differs between backends, as flags the store reads. */
export interface StoreCapabilities {
  /** `percentile_disc(...) WITHIN GROUP` runs in SQL; else percentiles are computed in the store. */
  percentiles: boolean;
  /** The operator for a case-insensitive substring match (`like` on SQLite, `ilike` on PostgreSQL). */
  likeOperator: "like" | "ilike";
  /** Most bound parameters one statement may carry. */
  maxParameters: number;
  /** The aggregate that sums integer columns without overflowing or reading back unsafely. */
  sumFunction: "sum" | "total";
}

/** One open database behind the store. */
export interface StoreBackend {
  /** For messages only (`sqlite`, `postgres`). */
  readonly kind: string;
  /** A short description for logs, without credentials. */
  readonly where: string;
  readonly db: Kysely<Database>;
  readonly capabilities: StoreCapabilities;
  /** The sids whose search text holds `text` (at least three characters), case-insensitive for ASCII. */
  searchSids(text: string): RawBuilder<unknown>;
  /** Bytes the database's live data takes on disk. */
  size(): Promise<number>;
  /** Hand space freed by deletes back to the filesystem where the backend keeps it. */
  reclaim(): Promise<void>;
  /**
   * What a failed statement means for the store: the database cannot be
   * reached now (spool and retry), its disk is full (refuse with 507), or it
   * refuses this data (the record goes to the dead-letter file).
   */
  classify(err: unknown): StoreFailure;
  /**
   * Watch one write transaction: `lost()` is true when, by its end, the
   * database had seen a COMMIT with no transaction open: the session died
   * and the driver reconnected under the transaction, so what it wrote
   * before may be gone. Absent where a session cannot be replaced (SQLite).
   */
  transactionGuard?(): { lost(): boolean };
  /** A cheap round trip; rejects when the database cannot be reached. */
  ping(): Promise<void>;
  /** Release every connection. */
  close(): Promise<void>;
}
