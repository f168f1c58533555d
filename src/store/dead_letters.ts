/**
 * The dead-letter file: records the database refused (not "could not be
 * reached": refused, such as a value its column type cannot hold) while the
 * spool was replayed. They are kept here, one JSON line each with the
 * database's answer, counted in `/status` and `/metrics`, and put back with
 * `astron-watch traces dead-letters replay` once the cause is fixed; the
 * rest of the spool flows on.
 *
 * One file, `<dir>/dead-letters.ndjson`, appended and fsynced. Blobs a dead
 * letter links to are kept from garbage collection while it is here.
 *
 * @module
 */

import type { BlobRef } from "./blobs.ts";
import type { SpanRecord } from "../otlp/traces.ts";
import type { WorkflowRecord } from "../workflow/record.ts";
import { SerialLock } from "../serial_lock.ts";

/** One refused record. */
export interface DeadLetter {
  /** When the database refused it (epoch ms). */
  at: number;
  /** What the database said. */
  error: string;
  /** A workflow run as accepted (large strings already replaced by blob links). */
  run?: { record: WorkflowRecord; blobs: BlobRef[]; accepted_at: number };
  /** An OTLP span in normal form. */
  span?: { record: SpanRecord; accepted_at: number; blobs?: BlobRef[] };
}

const encoder = new TextEncoder();

/** The dead-letter file (see the module doc). */
export class DeadLetters {
  readonly path: string;
  readonly #dir: string;
  readonly #lock = new SerialLock();
  #count = 0;
  #seen?: { size: number; mtime: number };

  constructor(dir: string) {
    this.#dir = dir;
    this.path = `${dir}/dead-letters.ndjson`;
  }

  /** Records in the file, as of the last {@linkcode refresh} or append. */
  get count(): number {
    return this.#count;
  }

  /** Append refused records, fsynced. */
  append(letters: readonly DeadLetter[]): Promise<void> {
    if (!letters.length) return Promise.resolve();
    const text = letters.map((l) => JSON.stringify(l) + "\n").join("");
    return this.#lock.run(async () => {
      await Deno.mkdir(this.#dir, { recursive: true });
      const file = await this.#openLocked();
      const start = (await file.stat()).size;
      try {
        const bytes = encoder.encode(text);
        let off = 0;
        try {
          while (off < bytes.length) off += await file.write(bytes.subarray(off));
          await file.syncData();
        } catch (err) {
          // Leave no partial line for the next append to be glued onto.
          await file.truncate(start).catch(() => {});
          throw err;
        }
      } finally {
        await file.unlock().catch(() => {});
        file.close();
      }
      this.#count += letters.length;
    });
  }

  /**
   * The file, opened for appending and locked. A shell replay renames the
   * file aside and locks it before reading: if the path no longer names the
   * file opened, it was moved meanwhile, so open the new one.
   */
  async #openLocked(): Promise<Deno.FsFile> {
    for (;;) {
      const file = await Deno.open(this.path, { append: true, create: true, mode: 0o600 });
      await file.lock(true);
      const [open, named] = await Promise.all([
        file.stat(),
        Deno.stat(this.path).catch(() => null),
      ]);
      if (named && named.ino === open.ino) return file;
      await file.unlock().catch(() => {});
      file.close();
    }
  }

  /** Every record in the file, oldest first (a line cut short by a crash is skipped). */
  list(): Promise<DeadLetter[]> {
    return readLetters(this.path);
  }

  /** Re-count the file when it changed (a replay by the shell command empties it). */
  async refresh(): Promise<number> {
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(this.path);
    } catch {
      this.#count = 0;
      this.#seen = undefined;
      return 0;
    }
    const seen = { size: stat.size, mtime: stat.mtime?.getTime() ?? 0 };
    if (this.#seen?.size !== seen.size || this.#seen.mtime !== seen.mtime) {
      this.#count = (await this.list()).length;
      this.#seen = seen;
    }
    return this.#count;
  }

  /** Every record, in the file and in files a replay set aside (one killed midway leaves them). */
  async listAll(): Promise<DeadLetter[]> {
    const out = await this.list();
    for (const f of await this.#asideFiles()) out.push(...await readLetters(f));
    return out;
  }

  async #asideFiles(): Promise<string[]> {
    const files: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (
          e.isFile && e.name.startsWith("dead-letters.ndjson.") && e.name.endsWith(".replaying")
        ) {
          files.push(`${this.#dir}/${e.name}`);
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return files.sort();
  }

  /**
   * Take every record out of the file to replay them. The file is renamed
   * aside first, so records refused meanwhile start a new one; `finish`
   * appends those still refused back and removes the aside file. Aside files
   * a crashed replay left are taken too.
   */
  async take(): Promise<{ letters: DeadLetter[]; finish(refused: DeadLetter[]): Promise<void> }> {
    const aside = `${this.path}.${Date.now()}.replaying`;
    try {
      await Deno.rename(this.path, aside);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const files = await this.#asideFiles();
    const letters: DeadLetter[] = [];
    for (const f of files) {
      // An append in flight (it holds the lock) finishes first; one that opened
      // the file before the rename sees it moved and writes to the new one.
      const file = await Deno.open(f, { read: true });
      try {
        await file.lock(true);
        letters.push(...await readLetters(f));
      } finally {
        await file.unlock().catch(() => {});
        file.close();
      }
    }
    return {
      letters,
      finish: async (refused) => {
        await this.append(refused);
        for (const f of files) await Deno.remove(f).catch(() => {});
        await this.refresh();
      },
    };
  }
}

/** The records of a dead-letter file; none when it does not exist. */
async function readLetters(path: string): Promise<DeadLetter[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const out: DeadLetter[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const l = JSON.parse(line) as DeadLetter;
      if (l && typeof l === "object" && (l.run || l.span)) out.push(l);
    } catch {
      // a tail cut short by a crash
    }
  }
  return out;
}
