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
 * import { validateConfig } from "../config/schema.ts";
 * import { Logger } from "../log/logger.ts";
 * const checked = validateConfig({});
 * if (!checked.ok) throw new Error("defaults are valid");
 * const store = createStore(checked.config.store, new Logger());
 * await store.start();
 * const record = { sid: "spf00000001@hf1", start_time: Date.now() };
 * const result = await store.ingestRuns([record]);
 * const page = await store.listRuns({ app_id: "app1", limit: 20 });
 * await store.stop();
 * ```
 *
 * @module
 */

import { dirname } from "node:path";
import type { StoreConfig } from "../config/schema.ts";
import type { Component } from "../component.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import type { StoreBackend, StoreFailure } from "./backend.ts";
import { openBackend } from "./open_backend.ts";
import { migrateToLatest } from "./migrations.ts";
import { type BlobRef, BlobStore } from "./blobs.ts";
import { Spool } from "./spool.ts";
import { type DeadLetter, DeadLetters } from "./dead_letters.ts";
import { toRows } from "./rows.ts";
import { searchText } from "./search.ts";
import { type PreparedRun, type WriteBatch, writeBatch } from "./write.ts";
import { validateRecord, type WorkflowRecord } from "../workflow/record.ts";
import type { ProbeResultsTable, SpansTable } from "./schema.ts";
import type { SpanRecord } from "../otlp/traces.ts";
import { spanRow } from "./spans.ts";
import { SerialLock } from "../serial_lock.ts";
import {
  getRun,
  type ListQuery,
  type ListResult,
  listRuns,
  type NodePage,
  type RunDetail,
  type UsageQuery,
  type UsageResult,
  type UsageSeries,
  usageSeries,
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
  /** Longest a write may wait on the database before its records are spooled, ms (default 5 s). */
  writeDeadline?: number;
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

/** Something in an accepted record that was kept as given but not indexed as sent. */
export interface RecordWarning {
  index: number;
  sid: string;
  warning: string;
}

/** What {@linkcode Store.ingestRuns} did. */
export interface IngestResult {
  /** Records accepted (stored or spooled). */
  accepted: number;
  stored: number;
  /** Accepted while the database was unreachable: on disk, replayed later. */
  spooled: number;
  /** Records refused: by validation, or by the database itself. */
  rejected: number;
  errors: RecordError[];
  warnings: RecordWarning[];
}

/** What {@linkcode Store.ingestSpans} did. */
export interface SpanIngestResult {
  stored: number;
  spooled: number;
  /** Spans the database refused. */
  refused: number;
}

/** The store's counters, for `/metrics` and `/status`. */
export interface StoreStats {
  /** The database answers and its schema is current. */
  up: boolean;
  /** Why writes fail for lack of space, while they do. */
  full?: string;
  spooled: number;
  dead_letters: number;
  /** Records by outcome since start (`rejected`: by validation; `refused`: by the database). */
  records: { stored: number; spooled: number; rejected: number; refused: number };
  /** Failed database writes since start, by cause. */
  write_failures: Record<StoreFailure, number>;
}

/** A write refused because the store is not running or its database cannot be read (503). */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/** A write refused because the disk under the store (or its spool) is full (507). */
export class StoreFullError extends Error {
  override name = "StoreFullError";
}

/** One accepted run as it waits, is spooled and is replayed: rows are built when written. */
interface PendingRun {
  record: WorkflowRecord;
  blobs: BlobRef[];
  /** What `q=` searches, taken before long strings were offloaded. */
  search?: string;
  /** When it was accepted (epoch ms): its `ingested_at`. */
  at: number;
}

/** One accepted span, as it waits, is spooled and is replayed. */
interface PendingSpan {
  span: SpanRecord;
  /** Blobs its large values were offloaded to. */
  blobs?: BlobRef[];
  /** When it was accepted (epoch ms): its `received_at`. */
  at: number;
}

/** A spool entry: records, not rows, so a spool outlives a change of row shape. */
interface SpoolData {
  v: 2;
  runs: PendingRun[];
  spans: PendingSpan[];
}

/** What one queued write came to. */
interface JobOutcome {
  stored: number;
  spooled: number;
  /** Items the database refused, by their place in the job (runs first, then spans). */
  refused: Map<number, string>;
}

interface Job {
  runs: PendingRun[];
  spans: PendingSpan[];
  outcome: JobOutcome;
  resolve: (outcome: JobOutcome) => void;
  reject: (err: unknown) => void;
}

/** One run or span on its way to the database, with whom to tell. */
interface Item {
  job?: Job;
  index: number;
  run?: PendingRun;
  span?: PendingSpan;
  /** Rows from a spool written by an older version. */
  prepared?: PreparedRun;
  spanRow?: SpansTable;
}

/** A failed write: what it means and what the database said. */
interface Failure {
  kind: StoreFailure;
  message: string;
}

/**
 * Span values (attributes, event attributes) of more than 10 KiB go to
 * blobs, as the platform offloads span events over 10 KiB.
 */
export const SPAN_INLINE_LIMIT = 10 * 1024;

/** True when `err` says the disk is full. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "ENOSPC" || /ENOSPC|No space left|os error 28/.test(errorMessage(err));
}

/** The trace store; see the module doc. */
export class Store implements Component {
  readonly name = "store";
  readonly config: StoreConfig;
  readonly blobs: BlobStore;
  readonly deadLetters: DeadLetters;
  readonly #logger: Logger;
  readonly #options: StoreOptions;
  readonly #now: () => number;
  readonly #spool: Spool<SpoolData | WriteBatch>;
  /** Serialises database writes (never held while spooling). */
  readonly #dbLock = new SerialLock();
  #backend?: StoreBackend;
  #migrated = false;
  #queue: Job[] = [];
  #draining?: Promise<void>;
  #down = false;
  #downReason = "";
  #full?: string;
  #stopped = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #background = new Set<Promise<unknown>>();
  #records = { stored: 0, spooled: 0, rejected: 0, refused: 0 };
  #failures: Record<StoreFailure, number> = { unavailable: 0, full: 0, refused: 0 };

  constructor(config: StoreConfig, logger: Logger, options: StoreOptions = {}) {
    this.config = config;
    this.#logger = logger.child({ component: "store" });
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.blobs = new BlobStore({ dir: config.blob_dir, inlineLimit: config.inline_limit });
    const dir = options.spoolDir ?? `${dirname(config.blob_dir)}/spool`;
    this.#spool = new Spool(dir);
    this.deadLetters = new DeadLetters(dir);
  }

  /** The open backend. @throws {StoreUnavailableError} before start, after stop, or before its schema is known. */
  get backend(): StoreBackend {
    if (!this.#backend || this.#stopped) throw new StoreUnavailableError("the store is not open");
    if (!this.#migrated) {
      throw new StoreUnavailableError(`the database is unreachable (${this.#downReason})`);
    }
    return this.#backend;
  }

  /** Records waiting in the spool for the database. */
  get spooled(): number {
    return this.#spool.pending;
  }

  /**
   * Open the database, bring its schema up to date, open the spool (replaying
   * what a previous run left) and start the background work. A database
   * that cannot be reached is not an error when the background work runs:
   * the store starts degraded, spooling, and migrates once it answers.
   *
   * @throws {Error} when the database cannot be opened or migrated for another
   *   reason, or cannot be reached and there is no background work to wait for it.
   */
  async start(): Promise<void> {
    this.#stopped = false;
    const background = this.#options.background ?? true;
    const backend = await openBackend(this.config.url);
    // Knock first: a migration sent to a server that is down would wait for it.
    let { error, cause } = await backend.ping().then(
      () => ({ error: undefined, cause: undefined }),
      (err) => ({ error: errorMessage(err) as string | undefined, cause: err as unknown }),
    );
    if (!error) ({ error, cause } = await migrateToLatest(backend.db));
    if (error && !(background && backend.classify(cause) === "unavailable")) {
      await backend.close().catch(() => {});
      throw new Error(`store ${backend.where}: migration failed: ${error}`);
    }
    this.#backend = backend;
    this.#migrated = !error;
    if (error) this.#markDown(error);
    if (background) {
      await this.#spool.open();
      for (const l of await this.deadLetters.listAll()) {
        this.blobs.pin([...(l.run?.blobs ?? []), ...(l.span?.blobs ?? [])]);
      }
      await this.deadLetters.refresh();
      if (this.#spool.pending) {
        this.#logger.warn("spool holds records from before; replaying", {
          records: this.#spool.pending,
        });
        this.#down = true;
      }
      if (this.#down) this.#scheduleReplay();
      this.#schedule(() => this.#retentionLoop(), 5_000);
    }
    if (error) {
      this.#logger.warn("database unreachable; starting degraded, writes are spooled", {
        url: backend.where,
        err: error,
      });
    } else {
      this.#logger.info("store open", { url: backend.where });
    }
  }

  /** Stop background work, commit what is queued (or spool it), close the database. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#draining;
    await Promise.allSettled([...this.#background]);
    await this.#dbLock.idle();
    await this.#spool.close();
    await this.#backend?.close();
    this.#backend = undefined;
  }

  /** `undefined` when ready; else what is wrong. */
  readiness(): string | undefined {
    if (!this.#backend) return "not open";
    if (this.#full) return `disk full: ${this.#full}; writes are refused with 507`;
    if (this.#down || !this.#migrated || this.#spool.pending) {
      return `degraded: database unreachable, ${this.#spool.pending} records spooled`;
    }
    return undefined;
  }

  /** The store's counters (see {@linkcode StoreStats}). */
  stats(): StoreStats {
    return {
      up: !!this.#backend && this.#migrated && !this.#down,
      full: this.#full,
      spooled: this.#spool.pending,
      dead_letters: this.deadLetters.count,
      records: { ...this.#records },
      write_failures: { ...this.#failures },
    };
  }

  /**
   * Validate and store workflow records, each on its own: a record that
   * fails validation, or that the database refuses, is named in `errors`
   * and the others are stored. The store takes ownership of `values` (large
   * strings in them are replaced by blob links).
   *
   * @throws {StoreUnavailableError} when the store is not running.
   * @throws {StoreFullError} when the disk is full.
   */
  async ingestRuns(values: readonly unknown[]): Promise<IngestResult> {
    this.#checkOpen();
    const errors: RecordError[] = [];
    const warnings: RecordWarning[] = [];
    const runs: PendingRun[] = [];
    const positions: number[] = [];
    const at = this.#now();
    try {
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
        for (const warning of r.warnings) warnings.push({ index: i, sid: r.record.sid, warning });
        const run: PendingRun = { record: r.record, blobs: [], at, search: searchText(r.record) };
        runs.push(run);
        positions.push(i);
        run.blobs = await this.blobs.offload(r.record);
      }
    } catch (err) {
      this.blobs.unpin(runs.flatMap((x) => x.blobs));
      if (isNoSpace(err)) throw this.#noSpace(err);
      throw err;
    }
    this.#records.rejected += errors.length;
    let outcome: JobOutcome = { stored: 0, spooled: 0, refused: new Map() };
    try {
      if (runs.length) outcome = await this.#enqueue(runs, []);
    } finally {
      this.blobs.unpin(runs.flatMap((x) => x.blobs));
    }
    for (const [k, error] of outcome.refused) {
      errors.push({ index: positions[k], sid: runs[k].record.sid, error });
    }
    errors.sort((a, b) => a.index - b.index);
    return {
      accepted: outcome.stored + outcome.spooled,
      stored: outcome.stored,
      spooled: outcome.spooled,
      rejected: errors.length,
      errors,
      warnings,
    };
  }

  /** Store spans (from the OTLP decoders); a span sent again replaces the stored one. */
  async ingestSpans(spans: SpanRecord[]): Promise<SpanIngestResult> {
    this.#checkOpen();
    if (!spans.length) return { stored: 0, spooled: 0, refused: 0 };
    const at = this.#now();
    const pending: PendingSpan[] = [];
    try {
      for (const span of spans) {
        const blobs = await this.blobs.offload(
          { attributes: span.attributes, events: span.events },
          SPAN_INLINE_LIMIT,
        );
        pending.push(blobs.length ? { span, at, blobs } : { span, at });
      }
    } catch (err) {
      this.blobs.unpin(pending.flatMap((p) => p.blobs ?? []));
      if (isNoSpace(err)) throw this.#noSpace(err);
      throw err;
    }
    let outcome: JobOutcome;
    try {
      outcome = await this.#enqueue([], pending);
    } finally {
      this.blobs.unpin(pending.flatMap((p) => p.blobs ?? []));
    }
    return { stored: outcome.stored, spooled: outcome.spooled, refused: outcome.refused.size };
  }

  /**
   * Keep probe runs as history. Best effort: while the database is
   * unreachable they are dropped (the in-memory hour still answers), never spooled.
   *
   * @returns how many were written.
   */
  async recordProbeResults(rows: readonly ProbeResultsTable[]): Promise<number> {
    const backend = this.#backend;
    if (!rows.length || !backend || this.#stopped || this.#down || !this.#migrated) return 0;
    const chunk = Math.max(1, Math.floor(backend.capabilities.maxParameters / 6));
    await this.#dbLock.run(async () => {
      for (let i = 0; i < rows.length; i += chunk) {
        await backend.db.insertInto("probe_results").values(rows.slice(i, i + chunk)).execute();
      }
    });
    return rows.length;
  }

  /**
   * A probe's stored runs in `[since, until)`, oldest first: the first
   * `limit` of them, or with `newest`, the last `limit`.
   */
  async probeHistory(
    probe: string,
    since: number,
    until: number,
    limit: number,
    options: { newest?: boolean } = {},
  ): Promise<ProbeResultsTable[]> {
    const rows = await this.#read((b) =>
      b.db.selectFrom("probe_results").selectAll()
        .where("probe", "=", probe).where("at", ">=", since).where("at", "<", until)
        .orderBy("at", options.newest ? "desc" : "asc").limit(limit).execute()
    );
    return options.newest ? rows.reverse() : rows;
  }

  /** One page of runs, newest first. */
  listRuns(q: ListQuery): Promise<ListResult> {
    return this.#read((b) => listRuns(b, q));
  }

  /**
   * One run with a page of its nodes (see {@linkcode NodePage}) and its
   * spans; with `expandBlobs`, the offloaded strings are put back in place of their links.
   */
  async getRun(
    sid: string,
    options: { expandBlobs?: boolean; nodes?: NodePage } = {},
  ): Promise<RunDetail | undefined> {
    const detail = await this.#read((b) => getRun(b, sid, options.nodes));
    if (!detail || !options.expandBlobs || !detail.blobs.length) return detail;
    const record = await this.blobs.expand(detail.record, new Set(detail.blobs));
    return { ...detail, record: record as RunDetail["record"] };
  }

  /** Token sums and latency percentiles per `app_id` or `node_type` over a window. */
  usage(q: UsageQuery): Promise<UsageResult> {
    return this.#read((b) => usageStats(b, q));
  }

  /** Tokens per `app_id` per `step` ms over a window. */
  usageSeries(q: { since: number; until: number; step: number }): Promise<UsageSeries> {
    return this.#read((b) => usageSeries(b, q));
  }

  /** The content of blob `hash`, when it exists and a run links to it. */
  async readBlob(hash: string): Promise<string | undefined> {
    const row = await this.#read(async (b) =>
      await b.db.selectFrom("run_blobs").select("hash").where("hash", "=", hash).limit(1)
        .executeTakeFirst() ??
        await b.db.selectFrom("span_blobs").select("hash").where("hash", "=", hash).limit(1)
          .executeTakeFirst()
    );
    return row ? await this.blobs.read(hash) : undefined;
  }

  /** Bytes the store takes (database and blobs). */
  size(): Promise<number> {
    return this.#read((backend) => storeSize({ backend }));
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

  /**
   * Try to replay the spool now: migrate if that is still to do, then write
   * the oldest entries batch by batch. Records the database refuses go to
   * the dead-letter file and the rest flows on.
   *
   * @returns the records replayed (stored or dead-lettered).
   * @throws when the database is still unreachable (or full); nothing is lost then.
   */
  async replay(): Promise<number> {
    const backend = this.#backend;
    if (!backend || this.#stopped) return 0;
    await backend.ping();
    if (!this.#migrated) {
      const { error } = await migrateToLatest(backend.db);
      if (error) throw new Error(error);
      this.#migrated = true;
      this.#logger.info("database reachable; schema migrated", { url: backend.where });
    }
    let total = 0;
    while (this.#spool.pending && !this.#stopped) {
      const batch = await this.#spool.read(this.#options.maxBatchRuns ?? 2000);
      if (!batch.entries.length) break;
      const items = batch.entries.flatMap(itemsOf);
      const refused: DeadLetter[] = [];
      const failure = await this.#dbLock.run(() =>
        this.#writeItems(items, (item, error) => refused.push(deadLetter(item, error, this.#now())))
      );
      if (failure) throw new Error(failure.message);
      if (refused.length) {
        await this.deadLetters.append(refused);
        for (const l of refused) {
          this.blobs.pin([...(l.run?.blobs ?? []), ...(l.span?.blobs ?? [])]);
        }
        this.#records.refused += refused.length;
        this.#logger.error("database refused spooled records; kept in the dead-letter file", {
          records: refused.length,
          file: this.deadLetters.path,
          err: refused[0].error,
        });
      }
      await this.#spool.advance(batch);
      total += batch.records;
    }
    if (!this.#spool.pending && this.#down) {
      this.#down = false;
      this.#logger.info("database reachable again; spool replayed", { records: total });
    }
    return total;
  }

  /**
   * Write the dead letters again (after the cause was fixed): the ones the
   * database takes leave the file, the others stay.
   *
   * @returns how many were stored and how many are still refused.
   */
  async replayDeadLetters(): Promise<{ stored: number; refused: number; errors: string[] }> {
    this.#checkOpen();
    const { letters, finish } = await this.deadLetters.take();
    const stillRefused: DeadLetter[] = [];
    const items: Item[] = letters.map((l, index) => ({
      index,
      run: l.run ? { record: l.run.record, blobs: l.run.blobs, at: l.run.accepted_at } : undefined,
      span: l.span
        ? { span: l.span.record, at: l.span.accepted_at, blobs: l.span.blobs }
        : undefined,
    }));
    let failure: Failure | undefined;
    try {
      failure = await this.#dbLock.run(() =>
        this.#writeItems(items, (item, error) => {
          stillRefused.push({ ...letters[item.index], at: this.#now(), error });
        })
      );
    } finally {
      // Whatever did not get through is kept: all of it when the database failed.
      await finish(failure ? letters : stillRefused);
    }
    if (failure) throw new Error(`database ${failure.kind}: ${failure.message}`);
    return {
      stored: letters.length - stillRefused.length,
      refused: stillRefused.length,
      errors: stillRefused.map((l) => l.error),
    };
  }

  #checkOpen(): void {
    if (!this.#backend || this.#stopped) throw new StoreUnavailableError("the store is not open");
  }

  /** Run a read; a database that cannot be reached is a {@linkcode StoreUnavailableError}. */
  async #read<T>(fn: (backend: StoreBackend) => Promise<T>): Promise<T> {
    const backend = this.backend;
    try {
      return await fn(backend);
    } catch (err) {
      if (backend.classify(err) === "unavailable") {
        throw new StoreUnavailableError(`the database is unreachable (${errorMessage(err)})`);
      }
      throw err;
    }
  }

  #enqueue(runs: PendingRun[], spans: PendingSpan[]): Promise<JobOutcome> {
    return new Promise((resolve, reject) => {
      const outcome: JobOutcome = { stored: 0, spooled: 0, refused: new Map() };
      this.#queue.push({ runs, spans, outcome, resolve, reject });
      this.#kick();
    });
  }

  /** Start draining the queue unless a drain runs; a job queued as one ends starts the next. */
  #kick(): void {
    if (this.#draining) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      if (this.#queue.length) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    const max = this.#options.maxBatchRuns ?? 2000;
    while (this.#queue.length) {
      const jobs: Job[] = [];
      let count = 0;
      while (this.#queue.length) {
        const next = this.#queue[0];
        const n = next.runs.length + next.spans.length;
        if (jobs.length && count + n > max) break;
        jobs.push(this.#queue.shift()!);
        count += n;
      }
      const items = jobs.flatMap(jobItems);
      let error: unknown = new Error("the write did not complete");
      try {
        if (this.#spooling()) {
          // Never behind the database lock: an append must not wait on a replay.
          await this.#spoolItems(items);
        } else {
          await this.#commitWithin(items, this.#options.writeDeadline ?? 5_000);
        }
      } catch (err) {
        error = err;
      }
      for (const j of jobs) {
        const { stored, spooled, refused } = j.outcome;
        // A job already rejected ignores both calls.
        if (stored + spooled + refused.size === j.runs.length + j.spans.length) {
          j.resolve(j.outcome);
        } else j.reject(error);
      }
    }
  }

  /** Writes go to the spool: the database is (or was just) unreachable, or the spool must drain first. */
  #spooling(): boolean {
    return this.#down || !this.#migrated || this.#spool.pending > 0;
  }

  async #commit(items: Item[]): Promise<void> {
    if (this.#spooling()) return await this.#spoolItems(items);
    const failure = await this.#writeItems(items, (item, error) => {
      item.job!.outcome.refused.set(item.index, error);
      this.#records.refused++;
    });
    if (!failure) return;
    const rest = items.filter((i) => !settled(i));
    if (failure.kind === "unavailable") {
      this.#markDown(failure.message);
      this.#logger.warn("database unreachable; spooling writes", { err: failure.message });
      await this.#spoolItems(rest);
    } else {
      const err = this.#noSpace(failure.message);
      for (const job of new Set(rest.map((i) => i.job!))) job.reject(err);
    }
  }

  /**
   * Write `items`; when the database refuses the batch, split it in halves
   * until each refused item is alone, and hand those to `refused`. Stops at
   * the first failure that is not a refusal and returns it; the items not
   * yet written are the ones whose job has not counted them.
   */
  async #writeItems(
    items: Item[],
    refused: (item: Item, error: string) => void,
  ): Promise<Failure | undefined> {
    if (!items.length) return undefined;
    const backend = this.#backend!;
    try {
      await writeBatch(backend, batchOf(items), this.#now());
    } catch (err) {
      const kind = backend.classify(err);
      const message = errorMessage(err);
      this.#failures[kind]++;
      if (kind !== "refused") return { kind, message };
      if (items.length === 1) {
        // Spooled already when the write came too late: the replay decides.
        if (settled(items[0])) return undefined;
        refused(items[0], message);
        markDone(items[0], "refused");
        return undefined;
      }
      const mid = items.length >> 1;
      return await this.#writeItems(items.slice(0, mid), refused) ??
        await this.#writeItems(items.slice(mid), refused);
    }
    this.#full = undefined;
    for (const item of items) {
      if (settled(item)) continue; // spooled already, when the write came too late
      markDone(item, "stored");
      if (item.job) this.#records.stored++;
    }
    return undefined;
  }

  /**
   * Commit `items` under the database lock, but answer within `deadline`:
   * a database that takes longer (it hangs, or a lock holds the table) is
   * treated as unreachable, and what is not written yet is spooled. The
   * late write goes on holding the lock, so a replay cannot run before it
   * settles (and its older rows cannot land after newer replayed ones).
   */
  async #commitWithin(items: Item[], deadline: number): Promise<void> {
    const writing = this.#dbLock.run(() => this.#commit(items));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), deadline)
    );
    try {
      if ((await Promise.race([writing, late])) !== "late") return;
    } finally {
      clearTimeout(timer);
    }
    writing.catch(() => {}); // it settles later, alone
    this.#markDown(`no answer within ${deadline} ms`);
    this.#logger.warn("database not answering; spooling writes", { deadline_ms: deadline });
    await this.#spoolItems(items.filter((i) => !settled(i)));
  }

  /** Append `items` to the spool as one entry; their jobs hear "spooled" once it is on disk. */
  async #spoolItems(items: Item[]): Promise<void> {
    if (!items.length) return;
    const data: SpoolData = {
      v: 2,
      runs: items.flatMap((i) => i.run ? [i.run] : []),
      spans: items.flatMap((i) => i.span ? [i.span] : []),
    };
    try {
      await this.#spool.append(data, items.length);
    } catch (err) {
      this.#logger.error("spool write failed", { err: errorMessage(err) });
      const reason = isNoSpace(err) ? this.#noSpace(err) : err;
      for (const job of new Set(items.map((i) => i.job!))) job.reject(reason);
      return;
    }
    for (const item of items) markDone(item, "spooled");
    this.#records.spooled += items.length;
    this.#scheduleReplay();
  }

  #markDown(reason: string): void {
    this.#down = true;
    this.#downReason = reason;
  }

  /** Note a full disk (readiness says so until a write succeeds) and build the error for callers. */
  #noSpace(cause: unknown): StoreFullError {
    const why = typeof cause === "string" ? cause : errorMessage(cause);
    if (!this.#full) this.#logger.error("disk full: writes are refused", { err: why });
    this.#full = why;
    return new StoreFullError(`the store's disk is full (${why})`);
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
  #replayFailures = 0;

  #scheduleReplay(): void {
    if (this.#replayScheduled || this.#stopped || !(this.#options.background ?? true)) return;
    this.#replayScheduled = true;
    this.#schedule(async () => {
      try {
        await this.replay();
        this.#replayFailures = 0;
      } catch (err) {
        // Say why once, then every minute or so: the cause must be visible, not flood the log.
        const log = this.#replayFailures++ % 60 === 0 ? "warn" : "debug";
        this.#logger[log]("database still unavailable; spool kept", {
          records: this.#spool.pending,
          err: errorMessage(err),
        });
        this.#downReason = errorMessage(err);
      }
      // One replay at a time: the next is scheduled only once this one is done.
      this.#replayScheduled = false;
      if (this.#spool.pending || !this.#migrated) this.#scheduleReplay();
    }, this.#options.replayInterval ?? 1_000);
  }

  async #retentionLoop(): Promise<void> {
    try {
      await this.deadLetters.refresh();
      if (!this.#down && this.#migrated) {
        const r = await this.enforceRetention();
        if (r.runs || r.spans || r.blobs) this.#logger.info("retention", { ...r });
      }
    } finally {
      this.#schedule(() => this.#retentionLoop(), this.#options.retentionInterval ?? 60_000);
    }
  }
}

/** The items of one job: its runs, then its spans. */
function jobItems(job: Job): Item[] {
  return [
    ...job.runs.map((run, index) => ({ job, index, run })),
    ...job.spans.map((span, k) => ({ job, index: job.runs.length + k, span })),
  ];
}

/** The items of one spool entry (an older version spooled prepared rows: they are written as they are). */
function itemsOf(entry: SpoolData | WriteBatch): Item[] {
  if ("v" in entry) {
    return [
      ...entry.runs.map((run, index) => ({ index, run })),
      ...entry.spans.map((span, index) => ({ index, span })),
    ];
  }
  return [
    ...entry.runs.map((prepared, index) => ({ index, prepared })),
    ...entry.spans.map((spanRow, index) => ({ index, spanRow })),
  ];
}

function batchOf(items: Item[]): WriteBatch {
  const runs: PreparedRun[] = [];
  const spans: SpansTable[] = [];
  const spanBlobs: NonNullable<WriteBatch["spanBlobs"]> = [];
  for (const i of items) {
    if (i.run) {
      runs.push({ rows: toRows(i.run.record, i.run.at), blobs: i.run.blobs, search: i.run.search });
    } else if (i.prepared) runs.push(i.prepared);
    else if (i.span) {
      spans.push(spanRow(i.span.span, i.span.at));
      if (i.span.blobs?.length) {
        spanBlobs.push({
          trace_id: i.span.span.trace_id,
          span_id: i.span.span.span_id,
          blobs: i.span.blobs,
        });
      }
    } else if (i.spanRow) spans.push(i.spanRow);
  }
  return { runs, spans, spanBlobs };
}

const done = new WeakSet<Item>();

function markDone(item: Item, how: "stored" | "refused" | "spooled"): void {
  done.add(item);
  if (!item.job) return;
  if (how === "stored") item.job.outcome.stored++;
  if (how === "spooled") item.job.outcome.spooled++;
}

function settled(item: Item): boolean {
  return done.has(item);
}

function deadLetter(item: Item, error: string, at: number): DeadLetter {
  if (item.span) {
    return {
      at,
      error,
      span: { record: item.span.span, accepted_at: item.span.at, blobs: item.span.blobs },
    };
  }
  if (item.spanRow) {
    const row = item.spanRow;
    return { at, error, span: { record: JSON.parse(row.record), accepted_at: row.received_at } };
  }
  if (item.run) {
    return {
      at,
      error,
      run: { record: item.run.record, blobs: item.run.blobs, accepted_at: item.run.at },
    };
  }
  const rows = item.prepared!.rows;
  const record = JSON.parse(rows.run.record) as WorkflowRecord;
  if (Array.isArray(record.trace)) record.trace = rows.nodes.map((n) => JSON.parse(n.record));
  return {
    at,
    error,
    run: { record, blobs: item.prepared!.blobs, accepted_at: rows.run.ingested_at },
  };
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
