/**
 * A log sink that writes lines to a file, rotates it by size and keeps the
 * last N rotated files, optionally gzipped, without ever splitting a line.
 *
 * Rotation works like this (`keep: 3`, `compress: false`): when the next line
 * would take `app.log` past `maxSize`, `app.log.3` is removed, `app.log.2`
 * becomes `app.log.3`, `app.log.1` becomes `app.log.2`, `app.log` becomes
 * `app.log.1`, and a fresh `app.log` takes the line. With `compress: true` a
 * rotated file is gzipped to `app.log.1.gz` in the background and the chain
 * shifts `.N.gz` names the same way. A line longer than `maxSize` goes whole
 * into a file of its own. The rotated files themselves (their chain,
 * retention and compression) are kept by `RotatedFiles` (rotated_files.ts).
 *
 * Lines are copied into 1 MiB batches and written by one background writer:
 * a batch goes out when it is full, every `flushInterval`, at once after an
 * `error` line, and on {@linkcode RotatingFileSink.flush} and `close`. The
 * buffer is bounded by `maxBuffer`: when the disk is slow or failing, new
 * lines are dropped and counted instead of blocking the caller or growing
 * memory. A write that fails (full disk, deleted directory) is counted, its
 * lines dropped, and retried on the next tick, so writing resumes by itself.
 * Nothing here throws out of `write`.
 *
 * @example
 * ```ts
 * import { Logger } from "./logger.ts";
 * const sink = new RotatingFileSink({ path: "./logs/app.log", maxSize: 10_000_000, keep: 10 });
 * const log = new Logger({ sinks: [sink] });
 * log.info("started");
 * await sink.close();
 * ```
 *
 * @module
 */

import { dirname } from "node:path";
import { FILE_MODE, RotatedFiles } from "./rotated_files.ts";
import type { LogLevel, LogSink } from "./logger.ts";
import { errorMessage } from "../errors.ts";
import { timerDelay } from "../timers.ts";

/** Options for {@linkcode RotatingFileSink}. Sizes in bytes, durations in ms. */
export interface RotatingFileSinkOptions {
  /** The live log file; rotated files sit beside it as `PATH.1`, `PATH.2.gz`, ... */
  path: string;
  /** Rotate before a line would take the file past this size; 0 never rotates. Default 10 MB. */
  maxSize?: number;
  /** Rotated files to keep (0 keeps none). Default 10. */
  keep?: number;
  /** Gzip rotated files to `PATH.N.gz`, in the background. Default false. */
  compress?: boolean;
  /** Remove rotated files older than this; 0 keeps them (by count only). Default 0. */
  maxAge?: number;
  /** Write buffered lines at least this often. Default 1000 ms. */
  flushInterval?: number;
  /** Most bytes held in memory; lines beyond it are dropped and counted. Default 8 MiB. */
  maxBuffer?: number;
  /**
   * Write batches with `writeSync` instead of `write`. Only for a process
   * that does nothing but log (`logs pipe`): it blocks the event loop while
   * a batch goes to the page cache. Measured on 2 shared cores, 2 M lines of
   * 200 bytes through `logs pipe` to a tmpfs, 6 runs each: sync median
   * 7.3 M lines/s, async 5.7 M (the thread hop per async write competes with
   * the reader and the producer for the CPUs). In-process the async default
   * keeps up with the raw 64 KiB `writeSync` limit (see `bench/log_sink.ts`),
   * so the agent never blocks its event loop on the disk.
   */
  syncWrites?: boolean;
}

/** Counters for `/status` and `/metrics`; every field only grows except `buffered_bytes`. */
export interface RotatingFileSinkStats {
  /** Lines written: every `write`, and `writeLines` chunks whose line count was given. */
  written_lines: number;
  written_bytes: number;
  /** Lines lost: buffer full, write failed, or written after `close`. */
  dropped_lines: number;
  dropped_bytes: number;
  /** Failed writes, opens and rotations (each failure once). */
  write_errors: number;
  compress_errors: number;
  rotations: number;
  /** Reopens: on `reopen()`, and when the file was moved or deleted under the sink. */
  reopens: number;
  /** Bytes waiting in memory now. */
  buffered_bytes: number;
  /** The last failure, one line, and when (ISO time). */
  last_error?: string;
  last_error_at?: string;
}

/** Whole lines waiting to be written. */
interface Batch {
  bytes: Uint8Array;
  /** Lines known to be in it (for `written_lines`). */
  lines: number;
  /** Its buffer is one of ours, to reuse once written. */
  pooled?: boolean;
  /** A borrowed chunk's caller, waiting for it to be written or dropped. */
  done?: () => void;
}

/** A write that failed after `written` bytes of whole lines reached the file. */
class WriteFailure extends Error {
  constructor(readonly written: number, override readonly cause: unknown) {
    super(errorMessage(cause));
  }
}

const MiB = 1024 * 1024;
const NL = 10;
const DIR_MODE = 0o750;
const encoder = new TextEncoder();

/**
 * A size-rotating, buffered file sink. See the module doc for the rules.
 * Construction does no I/O; the file and directory are opened on the first
 * write. Call {@linkcode RotatingFileSink.close} to flush and release it.
 */
export class RotatingFileSink implements LogSink {
  readonly #path: string;
  readonly #maxSize: number;
  readonly #flushInterval: number;
  readonly #maxBuffer: number;
  readonly #chunk: number;
  readonly #sync: boolean;

  // Lines being gathered, and sealed batches waiting for the writer.
  #fill: Uint8Array;
  #fillLen = 0;
  #fillLines = 0;
  #queue: Batch[] = [];
  #pool: Uint8Array[] = [];
  #pending = 0;
  #drainers: (() => void)[] = [];

  // The open file.
  #file: Deno.FsFile | null = null;
  #size = 0;
  #ino: number | null = null;
  #lastCheck = 0;
  #reopenWanted = false;
  #opened = false;

  #writing: Promise<void> | null = null;
  #failing = false;
  #closed = false;
  #timer: ReturnType<typeof setInterval>;

  /** The rotated files beside the live one. */
  readonly #rotated: RotatedFiles;

  #stats: RotatingFileSinkStats = {
    written_lines: 0,
    written_bytes: 0,
    dropped_lines: 0,
    dropped_bytes: 0,
    write_errors: 0,
    compress_errors: 0,
    rotations: 0,
    reopens: 0,
    buffered_bytes: 0,
  };

  constructor(options: RotatingFileSinkOptions) {
    this.#path = options.path;
    this.#maxSize = options.maxSize ?? 10_000_000;
    this.#flushInterval = Math.max(1, options.flushInterval ?? 1000);
    this.#maxBuffer = options.maxBuffer ?? 8 * MiB;
    this.#chunk = Math.min(MiB, this.#maxBuffer);
    this.#sync = options.syncWrites ?? false;
    this.#rotated = new RotatedFiles({
      path: options.path,
      keep: options.keep ?? 10,
      compress: options.compress ?? false,
      maxAge: options.maxAge ?? 0,
      sync: this.#sync,
      onError: (err) => this.#fail(err),
      onCompressError: (err) => {
        this.#stats.compress_errors++; // no lines lost: the plain file stays
        this.#report(err);
      },
    });
    this.#fill = new Uint8Array(this.#chunk);
    // A flush interval past what a timer can wait (~24.8 days) ticks at that most: flushing early is harmless.
    this.#timer = setInterval(() => this.#tick(), timerDelay(this.#flushInterval));
    Deno.unrefTimer(this.#timer);
  }

  /** Take one line (a missing final `\n` is added). Never blocks or throws. */
  write(line: string, level: LogLevel): void {
    const room = this.#chunk - this.#fillLen;
    const worst = line.length * 3 + 1;
    if (this.#closed || this.#pending + line.length > this.#maxBuffer) {
      this.#drop(1, line.length);
      return;
    }
    if (worst > room) {
      this.#seal();
      if (worst > this.#chunk) {
        const bytes = encoder.encode(line.endsWith("\n") ? line : line + "\n");
        this.#enqueue({ bytes, lines: 1 });
        return;
      }
    }
    const { written } = encoder.encodeInto(line, this.#fill.subarray(this.#fillLen));
    let n = written;
    if (n === 0 || this.#fill[this.#fillLen + n - 1] !== NL) this.#fill[this.#fillLen + n++] = NL;
    this.#fillLen += n;
    this.#fillLines++;
    this.#pending += n;
    if (level === "error" || this.#fillLen === this.#chunk) {
      this.#seal();
    }
  }

  /**
   * Take a chunk of whole lines as bytes: the fast path for `logs pipe`,
   * with no decoding. The bytes are copied, so the caller may reuse `chunk`
   * at once. A chunk not ending in `\n` gets one. Pass `lines` when known, to
   * count them in `written_lines`. Never blocks or throws; over `maxBuffer`
   * the chunk is dropped and counted (see {@linkcode drain} to wait instead).
   */
  writeLines(chunk: Uint8Array, lines = 0): void {
    let n = chunk.length;
    if (n === 0) return;
    if (this.#closed || this.#pending + n > this.#maxBuffer) {
      this.#drop(countLines(chunk), n);
      return;
    }
    if (chunk[n - 1] !== NL) {
      const whole = new Uint8Array(n + 1);
      whole.set(chunk);
      whole[n++] = NL;
      chunk = whole;
    }
    if (n > this.#chunk - this.#fillLen) {
      this.#seal();
      if (n > this.#chunk) {
        this.#enqueue({ bytes: chunk.slice(), lines });
        return;
      }
    }
    this.#fill.set(chunk, this.#fillLen);
    this.#fillLen += n;
    this.#fillLines += lines;
    this.#pending += n;
    if (this.#fillLen === this.#chunk) {
      this.#seal();
    }
  }

  /**
   * Write a chunk of whole lines without copying it: the zero-copy path for
   * `logs pipe`, which hands over its read buffer. Lines taken before it are
   * written first. Resolves once the chunk is in the file, or dropped and
   * counted (buffer full, writes failing, closed); until then the caller
   * must not change `chunk`. Never rejects.
   */
  writeChunk(chunk: Uint8Array, lines = 0): Promise<void> {
    const n = chunk.length;
    if (n === 0) return Promise.resolve();
    if (chunk[n - 1] !== NL) {
      this.writeLines(chunk, lines); // copies, and ends the last line
      return Promise.resolve();
    }
    if (this.#closed || this.#failing || this.#pending + n > this.#maxBuffer) {
      this.#drop(countLines(chunk), n);
      return Promise.resolve();
    }
    this.#seal();
    return new Promise((done) => this.#enqueue({ bytes: chunk, lines, done }));
  }

  /**
   * Tidy the directory now rather than at the first line: remove what an
   * interrupted run left (a `PATH.gz.tmp` from a compression cut short),
   * queue the rotated files that should be gzipped and are not, and prune
   * by age. Resolves when the directory has been scanned; compression goes
   * on in the background (`close` waits for it). Optional: the first write
   * does the same. Never rejects; a failure is counted like a failed write.
   */
  async open(): Promise<void> {
    if (this.#closed) return;
    await this.#rotated.scan().catch((err) => this.#fail(err));
  }

  /** Bytes held in memory, waiting to be written. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Resolve once the backlog is down to a quarter of `maxBuffer`, or at once
   * while writes are failing (then lines are dropped, not waited for) or
   * after `close`. A producer that must not lose lines to a slow disk (like
   * `logs pipe`) awaits this when {@linkcode pending} passes half of `maxBuffer`.
   */
  drain(): Promise<void> {
    this.#seal();
    if (this.#drained()) return Promise.resolve();
    return new Promise((resolve) => this.#drainers.push(resolve));
  }

  /** Write out everything taken so far (a failed write is counted, not thrown). */
  async flush(): Promise<void> {
    this.#failing = false;
    this.#lastCheck = 0;
    this.#seal();
    while (this.#writing) await this.#writing;
  }

  /**
   * Reopen the file by name (SIGHUP, after logrotate moved it): the new file
   * is created at once, as nginx does, and buffered lines go to it.
   */
  async reopen(): Promise<void> {
    this.#reopenWanted = true;
    await this.flush();
    if (this.#reopenWanted && !this.#writing && !this.#closed) {
      this.#reopenNow();
      // Open through the writer's slot, so no batch writes meanwhile.
      this.#writing = this.#open().catch((err) => this.#fail(err)).finally(() => {
        this.#writing = null;
        if (this.#queue.length) this.#kick();
      });
      await this.#writing;
    }
  }

  /** Flush, wait for background compression, and release the file. Later lines are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.flush();
    for (const batch of this.#queue.splice(0)) {
      this.#drop(countLines(batch.bytes), batch.bytes.length);
      batch.done?.();
    }
    this.#pending = 0;
    this.#wakeDrainers();
    await this.#rotated.idle();
    this.#closeFile();
  }

  /** A snapshot of the counters. */
  stats(): RotatingFileSinkStats {
    return { ...this.#stats, buffered_bytes: this.#pending };
  }

  // ---- buffering -------------------------------------------------------

  /** Close the batch being filled and start the writer on it. */
  #seal(): void {
    if (this.#fillLen > 0) {
      this.#queue.push({
        bytes: this.#fill.subarray(0, this.#fillLen),
        lines: this.#fillLines,
        pooled: true,
      });
      this.#fill = this.#pool.pop() ?? new Uint8Array(this.#chunk);
      this.#fillLen = 0;
      this.#fillLines = 0;
    }
    this.#kick();
  }

  #enqueue(batch: Batch): void {
    this.#queue.push(batch);
    this.#pending += batch.bytes.length;
    this.#kick();
  }

  #drop(lines: number, bytes: number): void {
    this.#stats.dropped_lines += lines;
    this.#stats.dropped_bytes += bytes;
  }

  #tick(): void {
    this.#failing = false;
    this.#seal();
    if (this.#rotated.hasExpired()) this.#rotated.prune().catch((e) => this.#fail(e));
  }

  #drained(): boolean {
    return this.#closed || this.#failing || this.#pending <= this.#maxBuffer / 4;
  }

  #wakeDrainers(): void {
    if (this.#drainers.length === 0 || !this.#drained()) return;
    for (const resolve of this.#drainers.splice(0)) resolve();
  }

  // ---- the writer ------------------------------------------------------

  #kick(): void {
    if (this.#writing || this.#failing || this.#queue.length === 0) return;
    this.#writing = this.#run();
  }

  async #run(): Promise<void> {
    // Start on a microtask: write() and writeLines() never do I/O themselves.
    await Promise.resolve();
    try {
      while (this.#queue.length > 0 && !this.#failing) {
        const batch = this.#queue[0];
        await this.#writeBatch(batch);
        this.#queue.shift();
        this.#pending -= batch.bytes.length;
        if (batch.pooled && this.#pool.length < 2) {
          this.#pool.push(new Uint8Array(batch.bytes.buffer as ArrayBuffer));
        }
        batch.done?.();
        this.#wakeDrainers();
      }
    } finally {
      this.#writing = null;
      this.#wakeDrainers();
    }
  }

  /** Write one batch, rotating between lines; a failure drops the rest and is counted. */
  async #writeBatch(batch: Batch): Promise<void> {
    let bytes = batch.bytes;
    try {
      if (this.#reopenWanted) this.#reopenNow();
      await this.#checkFile();
      while (bytes.length > 0) {
        if (!this.#file) await this.#open();
        const room = this.#maxSize - this.#size;
        if (this.#maxSize === 0 || bytes.length <= room) {
          await this.#writeAll(bytes);
          bytes = bytes.subarray(bytes.length);
          break;
        }
        let cut = room > 0 ? bytes.lastIndexOf(NL, room - 1) + 1 : 0;
        if (cut === 0 && this.#size === 0) cut = bytes.indexOf(NL) + 1 || bytes.length;
        if (cut > 0) {
          await this.#writeAll(bytes.subarray(0, cut));
          bytes = bytes.subarray(cut);
        }
        if (bytes.length > 0) {
          this.#closeFile();
          this.#size = 0;
          await this.#rotated.rotate();
          this.#stats.rotations++;
        }
      }
      this.#stats.written_lines += batch.lines;
    } catch (err) {
      const written = err instanceof WriteFailure ? err.written : 0;
      const lost = bytes.subarray(written);
      const lostLines = countLines(lost);
      this.#stats.written_lines += Math.max(0, batch.lines - lostLines);
      this.#drop(lostLines, lost.length);
      this.#fail(err instanceof WriteFailure ? err.cause : err);
      this.#closeFile();
      this.#failing = true;
    }
  }

  /** Write all of `bytes`; on failure keep only whole lines in the file and throw a WriteFailure. */
  async #writeAll(bytes: Uint8Array): Promise<void> {
    const file = this.#file!;
    const start = this.#size;
    let done = 0;
    try {
      while (done < bytes.length) {
        const part = bytes.subarray(done);
        done += this.#sync ? file.writeSync(part) : await file.write(part);
      }
    } catch (err) {
      const whole = done > 0 ? bytes.lastIndexOf(NL, done - 1) + 1 : 0;
      if (whole < done) await file.truncate(start + whole).catch(() => {});
      this.#size = start + whole;
      this.#stats.written_bytes += whole;
      throw new WriteFailure(whole, err);
    }
    this.#size = start + done;
    this.#stats.written_bytes += done;
  }

  /** Count a failed write, open or rotation and remember it. */
  #fail(err: unknown): void {
    this.#stats.write_errors++;
    this.#report(err);
  }

  #report(err: unknown): void {
    this.#stats.last_error = errorMessage(err);
    this.#stats.last_error_at = new Date().toISOString();
  }

  // ---- the file --------------------------------------------------------

  async #open(): Promise<void> {
    await this.#rotated.scan();
    let file: Deno.FsFile;
    const flags = { read: true, append: true, create: true, mode: FILE_MODE };
    try {
      file = await Deno.open(this.#path, flags);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      // No directory: make it. Report it when it was there before (deleted under us).
      if (this.#opened) this.#fail(err);
      await Deno.mkdir(dirname(this.#path), { recursive: true, mode: DIR_MODE });
      this.#rotated.forget();
      file = await Deno.open(this.#path, flags);
    }
    const info = await file.stat();
    this.#opened = true;
    this.#file = file;
    this.#ino = info.ino;
    this.#size = info.size;
    this.#lastCheck = Date.now();
    if (this.#size > 0) await this.#dropTornTail(file);
  }

  /** A crash mid-write can leave a torn last line: cut it off so the file holds whole lines. */
  async #dropTornTail(file: Deno.FsFile): Promise<void> {
    const span = Math.min(this.#size, MiB);
    const tail = new Uint8Array(span);
    await file.seek(this.#size - span, Deno.SeekMode.Start);
    let got = 0;
    while (got < span) {
      const n = await file.read(tail.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got !== span || tail[span - 1] === NL) return;
    const nl = tail.lastIndexOf(NL);
    if (nl === -1 && span < this.#size) return; // a line longer than 1 MiB: leave it
    this.#size = this.#size - span + nl + 1;
    await file.truncate(this.#size);
  }

  /** Reopen when the file was moved or deleted by someone else (checked once per flush interval). */
  async #checkFile(): Promise<void> {
    if (!this.#file || Date.now() - this.#lastCheck < this.#flushInterval) return;
    this.#lastCheck = Date.now();
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.stat(this.#path);
    } catch {
      // moved or deleted: reopen below
    }
    if (!info || (info.ino !== null && this.#ino !== null && info.ino !== this.#ino)) {
      this.#reopenNow();
    } else {
      this.#size = info.size; // someone may have truncated it (copytruncate)
    }
  }

  #reopenNow(): void {
    this.#reopenWanted = false;
    if (!this.#file) return;
    this.#closeFile();
    this.#stats.reopens++;
  }

  #closeFile(): void {
    const file = this.#file;
    this.#file = null;
    try {
      file?.close();
    } catch {
      // Already closed or broken: nothing more to release.
    }
  }
}

/** Newlines in `bytes` (used only where lines are lost, never on the hot path). */
function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(NL); i !== -1; i = bytes.indexOf(NL, i + 1)) n++;
  return n;
}
