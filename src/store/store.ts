/**
 * The trace store (SPEC §4.3): workflow runs with their node logs, OTLP
 * spans and probe history, in SQLite or PostgreSQL, behind one facade that
 * is also the agent's `store` component.
 *
 * Writes are queued and committed in groups (one transaction for everything
 * waiting), so many small posts cost few transactions. When the database
 * cannot be reached, accepted writes go to the spool (fsynced before the
 * caller hears back) and are replayed in order once it answers again;
 * meanwhile `readiness()` says the store is degraded. A background pass
 * enforces retention and the disk budget.
 *
 * @example
 * ```ts
 * const store = createStore(config.store, logger);
 * await store.start();
 * const result = await store.ingestRuns([record]);
 * const page = await store.listRuns({ app_id: "app1", limit: 20 });
 * await store.stop();
 * ```
 *
 * @module
 */

import { dirname } from "node:path";
import type { StoreConfig } from "../config/schema.ts";
import type { Component } from "../agent.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import { openBackend, type StoreBackend } from "./backend.ts";
import { migrateToLatest } from "./migrations.ts";
import { BlobStore } from "./blobs.ts";
import { Spool } from "./spool.ts";
import { toRows } from "./rows.ts";
import { type PreparedRun, type WriteBatch, writeBatch } from "./write.ts";
import { validateRecord } from "./workflow.ts";
import type { ProbeResultsTable, SpansTable } from "./schema.ts";
import {
  getRun,
  type ListQuery,
  type ListResult,
  listRuns,
  type RunDetail,
  type UsageQuery,
  type UsageResult,
  usageStats,
} from "./query.ts";
import { enforceRetention, type RetentionResult, storeSize } from "./retention.ts";

/** Options beyond the config (mostly for tests and the CLI). */
export interface StoreOptions {
  /** Where the outage spool lives (default: `spool/` beside the blob directory). */
  spoolDir?: string;
  /** Run the background work (retention, spool replay); default true. The CLI turns it off. */
  background?: boolean;
  /** Time between retention passes, ms (default 60 s; the first runs 5 s after start). */
  retentionInterval?: number;
  /** Time between reconnection attempts while spooling, ms (default 1 s). */
  replayInterval?: number;
  /** Unreferenced blobs younger than this are kept, ms (default 60 s). */
  blobGrace?: number;
  /** Most runs committed in one transaction (default 2000). */
  maxBatchRuns?: number;
  /** The clock (epoch ms). */
  now?: () => number;
}

/** One record refused, by its place in the request. */
export interface RecordError {
  /** 0-based position in the array (or line in NDJSON). */
  index: number;
  sid?: string;
  error: string;
}

/** What {@linkcode Store.ingestRuns} did. */
export interface IngestResult {
  /** Records accepted (stored or spooled). */
  accepted: number;
  stored: number;
  /** Accepted while the database was unreachable: on disk, replayed later. */
  spooled: number;
  rejected: number;
  errors: RecordError[];
}

/** What {@linkcode Store.ingestSpans} did. */
export interface SpanIngestResult {
  stored: number;
  spooled: number;
}

/** A write refused because the store is not running (the API answers 503). */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

interface Job {
  batch: WriteBatch;
  count: number;
  resolve: (outcome: "stored" | "spooled") => void;
  reject: (err: unknown) => void;
}

/** The trace store; see the module doc. */
export class Store implements Component {
  readonly name = "store";
  readonly config: StoreConfig;
  readonly blobs: BlobStore;
  readonly #logger: Logger;
  readonly #options: StoreOptions;
  readonly #now: () => number;
  readonly #spool: Spool<WriteBatch>;
  #backend?: StoreBackend;
  #queue: Job[] = [];
  #draining?: Promise<void>;
  #lock: Promise<void> = Promise.resolve();
  #down = false;
  #stopped = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #background = new Set<Promise<unknown>>();

  constructor(config: StoreConfig, logger: Logger, options: StoreOptions = {}) {
    this.config = config;
    this.#logger = logger.child({ component: "store" });
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.blobs = new BlobStore({ dir: config.blob_dir, inlineLimit: config.inline_limit });
    this.#spool = new Spool(options.spoolDir ?? `${dirname(config.blob_dir)}/spool`);
  }

  /** The open backend. @throws {StoreUnavailableError} before start or after stop. */
  get backend(): StoreBackend {
    if (!this.#backend || this.#stopped) throw new StoreUnavailableError("the store is not open");
    return this.#backend;
  }

  /** Records waiting in the spool for the database. */
  get spooled(): number {
    return this.#spool.pending;
  }

  /**
   * Open the database, bring its schema up to date, open the spool (replaying
   * what a previous run left) and start the background work.
   *
   * @throws {Error} when the database cannot be opened or migrated (a
   *   PostgreSQL that is down at start is an error: there is no schema to trust).
   */
  async start(): Promise<void> {
    this.#stopped = false;
    const backend = await openBackend(this.config.url);
    const { error } = await migrateToLatest(backend.db);
    if (error) {
      await backend.close().catch(() => {});
      throw new Error(`store ${backend.where}: migration failed: ${error}`);
    }
    this.#backend = backend;
    if (this.#options.background ?? true) {
      await this.#spool.open();
      if (this.#spool.pending) {
        this.#logger.warn("spool holds records from before; replaying", {
          records: this.#spool.pending,
        });
        this.#down = true;
        this.#scheduleReplay();
      }
      this.#schedule(() => this.#retentionLoop(), 5_000);
    }
    this.#logger.info("store open", { url: backend.where });
  }

  /** Stop background work, commit what is queued (or spool it), close the database. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#draining;
    await Promise.allSettled([...this.#background]);
    await this.#lock;
    this.#spool.close();
    await this.#backend?.close();
    this.#backend = undefined;
  }

  /** `undefined` when ready; else what is wrong. */
  readiness(): string | undefined {
    if (!this.#backend) return "not open";
    if (this.#down || this.#spool.pending) {
      return `degraded: database unreachable, ${this.#spool.pending} records spooled`;
    }
    return undefined;
  }

  /**
   * Validate and store workflow records, each on its own: a bad one is
   * named in `errors` and the others are stored. The store takes ownership
   * of `values` (large strings in them are replaced by blob links).
   *
   * @throws {StoreUnavailableError} when the store is not running.
   * @throws the database's error when it fails for another reason than being unreachable.
   */
  async ingestRuns(values: readonly unknown[]): Promise<IngestResult> {
    this.#checkOpen();
    const errors: RecordError[] = [];
    const runs: PreparedRun[] = [];
    const now = this.#now();
    for (let i = 0; i < values.length; i++) {
      const r = validateRecord(values[i]);
      if (!r.ok) {
        const sid = (values[i] as { sid?: unknown })?.sid;
        errors.push({
          index: i,
          sid: typeof sid === "string" ? sid.slice(0, 128) : undefined,
          error: r.error,
        });
        continue;
      }
      runs.push({ blobs: [], rows: undefined! });
      const prepared = runs[runs.length - 1];
      try {
        prepared.blobs = await this.blobs.offload(r.record);
      } catch (err) {
        this.blobs.unpin(runs.flatMap((x) => x.blobs));
        throw err;
      }
      prepared.rows = toRows(r.record, now);
    }
    let outcome: "stored" | "spooled" = "stored";
    try {
      if (runs.length) outcome = await this.#enqueue({ runs, spans: [] }, runs.length);
    } finally {
      this.blobs.unpin(runs.flatMap((x) => x.blobs));
    }
    return {
      accepted: runs.length,
      stored: outcome === "stored" ? runs.length : 0,
      spooled: outcome === "spooled" ? runs.length : 0,
      rejected: errors.length,
      errors,
    };
  }

  /** Store span rows (from {@linkcode decodeProtobuf} or {@linkcode decodeJson}). */
  async ingestSpans(rows: SpansTable[]): Promise<SpanIngestResult> {
    this.#checkOpen();
    if (!rows.length) return { stored: 0, spooled: 0 };
    const outcome = await this.#enqueue({ runs: [], spans: rows }, rows.length);
    return outcome === "stored"
      ? { stored: rows.length, spooled: 0 }
      : { stored: 0, spooled: rows.length };
  }

  /**
   * Keep probe runs as history. Best effort: while the database is
   * unreachable they are dropped (the in-memory hour still answers), never spooled.
   *
   * @returns how many were written.
   */
  async recordProbeResults(rows: readonly ProbeResultsTable[]): Promise<number> {
    const backend = this.#backend;
    if (!rows.length || !backend || this.#stopped || this.#down) return 0;
    const chunk = Math.max(1, Math.floor(backend.capabilities.maxParameters / 6));
    await this.#withLock(async () => {
      for (let i = 0; i < rows.length; i += chunk) {
        await backend.db.insertInto("probe_results").values(rows.slice(i, i + chunk)).execute();
      }
    });
    return rows.length;
  }

  /** A probe's stored runs in `[since, until)`, oldest first, at most `limit`. */
  probeHistory(
    probe: string,
    since: number,
    until: number,
    limit: number,
  ): Promise<ProbeResultsTable[]> {
    return this.backend.db.selectFrom("probe_results").selectAll()
      .where("probe", "=", probe).where("at", ">=", since).where("at", "<", until)
      .orderBy("at").limit(limit).execute();
  }

  /** One page of runs, newest first. */
  listRuns(q: ListQuery): Promise<ListResult> {
    return listRuns(this.backend, q);
  }

  /**
   * One run with its nodes in execution order and its spans; with
   * `expandBlobs`, the offloaded strings are put back in place of their links.
   */
  async getRun(
    sid: string,
    options: { expandBlobs?: boolean } = {},
  ): Promise<RunDetail | undefined> {
    const detail = await getRun(this.backend, sid);
    if (!detail || !options.expandBlobs || !detail.blobs.length) return detail;
    const record = await this.blobs.expand(detail.record, new Set(detail.blobs));
    return { ...detail, record: record as RunDetail["record"] };
  }

  /** Token sums and latency percentiles per `app_id` or `node_type` over a window. */
  usage(q: UsageQuery): Promise<UsageResult> {
    return usageStats(this.backend, q);
  }

  /** The content of blob `hash`, when it exists and a run links to it. */
  async readBlob(hash: string): Promise<string | undefined> {
    const row = await this.backend.db.selectFrom("run_blobs").select("hash")
      .where("hash", "=", hash).limit(1).executeTakeFirst();
    return row ? await this.blobs.read(hash) : undefined;
  }

  /** Bytes the store takes (database and blobs). */
  size(): Promise<number> {
    return storeSize({ backend: this.backend });
  }

  /** Run one retention pass now (the background loop does this every interval). */
  async enforceRetention(): Promise<RetentionResult> {
    return await enforceRetention({
      backend: this.backend,
      blobs: this.blobs,
      retention: this.config.retention,
      maxSize: this.config.max_size,
      blobGrace: this.#options.blobGrace,
      sweepOrphans: this.#spool.pending === 0,
    }, this.#now());
  }

  /** Wait until every queued write is committed or spooled. */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Try to replay the spool now; resolves to the records replayed. */
  async replay(): Promise<number> {
    let total = 0;
    while (this.#spool.pending && !this.#stopped) {
      const n = await this.#withLock(async () => {
        await this.backend.ping();
        return await this.#spool.replay(
          (batches) => writeBatch(this.backend, mergeBatches(batches), this.#now()),
          this.#options.maxBatchRuns ?? 2000,
        );
      });
      if (!n) break;
      total += n;
    }
    if (!this.#spool.pending && this.#down) {
      this.#down = false;
      this.#logger.info("database reachable again; spool replayed", { records: total });
    }
    return total;
  }

  #checkOpen(): void {
    if (!this.#backend || this.#stopped) throw new StoreUnavailableError("the store is not open");
  }

  #enqueue(batch: WriteBatch, count: number): Promise<"stored" | "spooled"> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, count, resolve, reject });
      this.#draining ??= this.#drain().finally(() => this.#draining = undefined);
    });
  }

  async #drain(): Promise<void> {
    const max = this.#options.maxBatchRuns ?? 2000;
    while (this.#queue.length) {
      const jobs: Job[] = [];
      let count = 0;
      while (this.#queue.length && (jobs.length === 0 || count + this.#queue[0].count <= max)) {
        const job = this.#queue.shift()!;
        jobs.push(job);
        count += job.count;
      }
      await this.#withLock(() => this.#commit(jobs));
    }
  }

  async #commit(jobs: Job[]): Promise<void> {
    const backend = this.#backend;
    const batch = mergeBatches(jobs.map((j) => j.batch));
    if (backend && !this.#down && !this.#spool.pending) {
      try {
        await writeBatch(backend, batch, this.#now());
        for (const j of jobs) j.resolve("stored");
        return;
      } catch (err) {
        if (!backend.isUnavailable(err)) {
          if (jobs.length > 1) {
            // One job's rows broke the batch: commit each alone, so only it fails.
            for (const j of jobs) await this.#commit([j]);
          } else {
            jobs[0].reject(err);
          }
          return;
        }
        this.#down = true;
        this.#logger.warn("database unreachable; spooling writes", { err: errorMessage(err) });
      }
    }
    try {
      await this.#spool.append(batch, jobs.reduce((n, j) => n + j.count, 0));
      for (const j of jobs) j.resolve("spooled");
      this.#scheduleReplay();
    } catch (err) {
      this.#logger.error("spool write failed", { err: errorMessage(err) });
      for (const j of jobs) j.reject(err);
    }
  }

  #withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(() => {}, () => {});
    return run;
  }

  #schedule(fn: () => Promise<void>, delay: number): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      const p = fn().catch((err) =>
        this.#logger.error("store background work failed", { err: errorMessage(err) })
      );
      this.#background.add(p);
      p.finally(() => this.#background.delete(p));
    }, delay);
    this.#timers.add(t);
  }

  #replayScheduled = false;

  #scheduleReplay(): void {
    if (this.#replayScheduled || this.#stopped || !(this.#options.background ?? true)) return;
    this.#replayScheduled = true;
    this.#schedule(async () => {
      this.#replayScheduled = false;
      try {
        await this.replay();
      } catch (err) {
        this.#logger.debug("database still unreachable", { err: errorMessage(err) });
      }
      if (this.#spool.pending) this.#scheduleReplay();
    }, this.#options.replayInterval ?? 1_000);
  }

  async #retentionLoop(): Promise<void> {
    try {
      if (!this.#down) {
        const r = await this.enforceRetention();
        if (r.runs || r.spans || r.blobs) this.#logger.info("retention", { ...r });
      }
    } finally {
      this.#schedule(() => this.#retentionLoop(), this.#options.retentionInterval ?? 60_000);
    }
  }
}

function mergeBatches(batches: readonly WriteBatch[]): WriteBatch {
  if (batches.length === 1) return batches[0];
  return { runs: batches.flatMap((b) => b.runs), spans: batches.flatMap((b) => b.spans) };
}

/**
 * Build the store component from the `store:` config. Nothing is opened
 * until `start()`.
 */
export function createStore(
  config: StoreConfig,
  logger: Logger,
  options: StoreOptions = {},
): Store {
  return new Store(config, logger, options);
}
