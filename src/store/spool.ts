/**
 * The outage spool: while the database cannot be reached, accepted writes
 * are appended here as JSON lines, each fsynced before the caller hears
 * "accepted", and replayed in order when the database is back. Replaying an
 * entry twice is harmless (runs replace by `sid`, spans by their ids), so a
 * crash during replay loses nothing and duplicates nothing.
 *
 * Appends never wait for a replay's database write: the file is only locked
 * while bytes are written or the replayed prefix is marked done, so a
 * database that hangs cannot hold up an append.
 *
 * One file, `<dir>/spool.ndjson`. A trailing line cut short by a crash was
 * never acknowledged and is skipped.
 *
 * @module
 */

import { SerialLock } from "../serial_lock.ts";

/** One spooled write. */
export interface SpoolEntry<T> {
  /** How many records the entry holds (for readiness messages). */
  count: number;
  data: T;
}

/** Entries read for a replay: hand them to the database, then {@linkcode Spool.advance}. */
export interface SpoolBatch<T> {
  entries: T[];
  records: number;
  /** Byte offset after the last entry read. */
  end: number;
  /** Which emptying of the file it was read in (offsets mean nothing across one). */
  generation: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CHUNK = 1 << 20;

/** The append-only spool (see the module doc). Not safe for two processes at once. */
export class Spool<T> {
  readonly path: string;
  readonly #dir: string;
  readonly #lock = new SerialLock();
  #file?: Deno.FsFile;
  /** Byte offset of the first entry not yet replayed. */
  #offset = 0;
  #size = 0;
  #pending = 0;
  /** Bumped each time the file is emptied: a batch read before it is stale. */
  #generation = 0;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = `${dir}/spool.ndjson`;
  }

  /** Records spooled and not yet replayed. */
  get pending(): number {
    return this.#pending;
  }

  /** Bytes on disk not yet replayed. */
  get pendingBytes(): number {
    return this.#size - this.#offset;
  }

  /** Open the spool, counting what a previous run left to replay. */
  async open(): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true });
    this.#file = await Deno.open(this.path, { read: true, write: true, create: true });
    this.#size = (await this.#file.stat()).size;
    this.#offset = 0;
    this.#pending = 0;
    let whole = 0;
    for await (const { entry, next } of this.#entries(0, this.#size)) {
      this.#pending += entry.count;
      whole = next;
    }
    if (whole < this.#size) {
      // A tail cut short by a crash (never acknowledged): drop it so the next
      // append starts on a line of its own.
      await this.#file.truncate(whole);
      this.#size = whole;
    }
  }

  /** Append one entry and fsync it; resolves once it is on disk. */
  append(data: T, count: number): Promise<void> {
    const line = encoder.encode(JSON.stringify({ count, data } satisfies SpoolEntry<T>) + "\n");
    return this.#lock.run(async () => {
      const file = this.#need();
      await file.seek(this.#size, Deno.SeekMode.Start);
      let off = 0;
      try {
        while (off < line.length) off += await file.write(line.subarray(off));
        await file.syncData();
      } catch (err) {
        // Leave no partial line behind: cut back to the last whole entry.
        await file.truncate(this.#size).catch(() => {});
        throw err;
      }
      this.#size += line.length;
      this.#pending += count;
    });
  }

  /**
   * The oldest entries not yet replayed: at most `maxRecords` records, at
   * least one entry. Nothing counts as replayed until {@linkcode advance}.
   */
  read(maxRecords = 1000): Promise<SpoolBatch<T>> {
    return this.#lock.run(async () => {
      const entries: T[] = [];
      let records = 0;
      let end = this.#offset;
      for await (const { entry, next } of this.#entries(this.#offset, this.#size)) {
        if (entries.length && records + entry.count > maxRecords) break;
        entries.push(entry.data);
        records += entry.count;
        end = next;
      }
      return { entries, records, end, generation: this.#generation };
    });
  }

  /** Mark a batch from {@linkcode read} as replayed; the file is emptied once all is. */
  advance(batch: SpoolBatch<T>): Promise<void> {
    return this.#lock.run(async () => {
      // Already advanced past, or read before the file was emptied (its
      // offsets now point into entries appended since): nothing to mark.
      if (batch.generation !== this.#generation || batch.end <= this.#offset) return;
      this.#offset = batch.end;
      this.#pending = Math.max(0, this.#pending - batch.records);
      if (this.#offset >= this.#size) {
        await this.#need().truncate(0);
        await this.#need().syncData();
        this.#size = 0;
        this.#offset = 0;
        this.#pending = 0;
        this.#generation++;
      }
    });
  }

  /**
   * Hand the oldest entries to `write` ({@linkcode read}, then
   * {@linkcode advance} once `write` resolves).
   *
   * @returns how many records were replayed (0 when the spool is empty).
   * @throws whatever `write` throws; nothing counts as replayed then.
   */
  async replay(write: (data: T[]) => Promise<void>, maxRecords = 1000): Promise<number> {
    const batch = await this.read(maxRecords);
    if (!batch.entries.length) return 0;
    await write(batch.entries);
    await this.advance(batch);
    return batch.records;
  }

  /** Close the file once pending appends are done (what is spooled stays for the next start). */
  async close(): Promise<void> {
    await this.#lock.run(() => {
      this.#file?.close();
      this.#file = undefined;
      return Promise.resolve();
    });
  }

  #need(): Deno.FsFile {
    if (!this.#file) throw new Error("spool is not open");
    return this.#file;
  }

  /** Whole entries in `[from, to)`, each with the offset after it. */
  async *#entries(
    from: number,
    to: number,
  ): AsyncGenerator<{ entry: SpoolEntry<T>; next: number }> {
    const file = this.#need();
    let pos = from;
    let buf = new Uint8Array(0);
    let bufStart = from;
    while (pos < to) {
      await file.seek(pos, Deno.SeekMode.Start);
      const chunk = new Uint8Array(Math.min(CHUNK, to - pos));
      const n = await file.read(chunk);
      if (!n) break;
      pos += n;
      const joined = new Uint8Array(buf.length + n);
      joined.set(buf);
      joined.set(chunk.subarray(0, n), buf.length);
      buf = joined;
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf(10, start)) >= 0) {
        const text = decoder.decode(buf.subarray(start, nl));
        const next = bufStart + nl + 1;
        start = nl + 1;
        let entry: SpoolEntry<T> | undefined;
        try {
          entry = JSON.parse(text);
        } catch {
          entry = undefined; // a line cut short by a crash: never acknowledged
        }
        if (entry && typeof entry.count === "number") yield { entry, next };
      }
      buf = buf.slice(start);
      bufStart += start;
    }
  }
}
