/**
 * The rotated files beside a live log file: the `.1` ... `.N` chain (or
 * `.N.gz`), shifted up by one on each rotation, kept to `keep` files and
 * `maxAge`, gzipped off the write path one at a time. The writer
 * ({@linkcode RotatingFileSink}) owns the live file; this owns the rest.
 *
 * Worked case, `keep: 3`, `compress: true`: rotating `app.log` removes
 * `app.log.3.gz`, renames `.2.gz` to `.3.gz` and `.1.gz` to `.2.gz`, moves
 * `app.log` to `app.log.1`, and later gzips it to `app.log.1.gz` (through
 * `app.log.gz.tmp`, so a crash leaves the plain file whole).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { SerialLock } from "../serial_lock.ts";

/** Mode of log files (the live one and the rotated ones). */
export const FILE_MODE = 0o640;

/** One rotated file: where it is in the `.N` chain is its index in the slot array. */
interface Rotated {
  gz: boolean;
  /** When it was rotated (ms since epoch). */
  mtime: number;
}

/** Options for {@linkcode RotatedFiles}. */
export interface RotatedFilesOptions {
  /** The live file's path; rotated files are `PATH.N` beside it. */
  path: string;
  /** Rotated files to keep (0 keeps none). */
  keep: number;
  /** Gzip rotated files. */
  compress: boolean;
  /** Remove rotated files older than this, ms (0: no age limit). */
  maxAge: number;
  /** Rename synchronously (the writer's `syncWrites`). */
  sync: boolean;
  /** A removal that failed (the chain goes on). */
  onError: (err: unknown) => void;
  /** A compression that failed (the plain file stays). */
  onCompressError: (err: unknown) => void;
}

/** The rotated files of one log file (see the module doc). */
export class RotatedFiles {
  readonly #o: RotatedFilesOptions;
  // Rotated files by index (1 = newest); undefined until the directory is scanned.
  #slots: (Rotated | undefined)[] | undefined;
  readonly #dirLock = new SerialLock();
  #compressing: Promise<void> = Promise.resolve();

  constructor(options: RotatedFilesOptions) {
    this.#o = options;
  }

  /**
   * Learn the rotated files already on disk, once: drop extras and leftovers
   * of an interrupted compression, queue what is still to compress, prune by age.
   */
  scan(): Promise<void> {
    return this.#dirLock.run(() => this.#slots ? Promise.resolve() : this.#scan());
  }

  /** The directory was just made: there is nothing rotated in it. */
  forget(): void {
    this.#slots = [];
  }

  /** Move the (closed) live file to `.1`, shifting the chain; then compress and prune. */
  async rotate(): Promise<void> {
    const rotated = await this.#dirLock.run(() => this.#shift());
    if (rotated && this.#o.compress) this.#queueCompression(rotated);
    if (this.#o.maxAge > 0) await this.prune();
  }

  /** True when a rotated file is past `maxAge`. */
  hasExpired(): boolean {
    const oldest = Date.now() - this.#o.maxAge;
    return this.#o.maxAge > 0 && !!this.#slots?.some((e) => e !== undefined && e.mtime < oldest);
  }

  /** Remove rotated files past `maxAge`. */
  prune(): Promise<void> {
    return this.#dirLock.run(() => this.#pruneByAge());
  }

  /** Resolves once compression and renames under way are done. */
  async idle(): Promise<void> {
    await this.#compressing;
    await this.#dirLock.idle();
  }

  /** Shift `.N` names up by one and move the live file to `.1`; returns its entry. */
  async #shift(): Promise<Rotated | undefined> {
    const slots = this.#slots ??= [];
    const { keep, path } = this.#o;
    try {
      if (keep === 0) {
        await remove(path);
        return undefined;
      }
      const last = slots[keep];
      if (last) await remove(this.#name(keep, last));
      slots[keep] = undefined;
      for (let i = keep - 1; i >= 1; i--) {
        const entry = slots[i];
        if (!entry) continue;
        await this.#rename(this.#name(i, entry), this.#name(i + 1, entry));
        slots[i + 1] = entry;
        slots[i] = undefined;
      }
      const entry: Rotated = { gz: false, mtime: Date.now() };
      await this.#rename(path, `${path}.1`);
      slots[1] = entry;
      return entry;
    } catch (err) {
      this.#slots = undefined; // rescan the directory before the next rotation
      throw err;
    }
  }

  #name(index: number, entry: Rotated): string {
    return `${this.#o.path}.${index}${entry.gz ? ".gz" : ""}`;
  }

  async #rename(from: string, to: string): Promise<void> {
    try {
      if (this.#o.sync) Deno.renameSync(from, to);
      else await Deno.rename(from, to);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  async #pruneByAge(): Promise<void> {
    const slots = this.#slots;
    if (!slots) return;
    const oldest = Date.now() - this.#o.maxAge;
    for (let i = 1; i < slots.length; i++) {
      const entry = slots[i];
      if (!entry || entry.mtime >= oldest) continue;
      await remove(this.#name(i, entry)).catch(this.#o.onError);
      slots[i] = undefined;
    }
  }

  async #scan(): Promise<void> {
    const slots: (Rotated | undefined)[] = [];
    this.#slots = slots;
    const { path, keep } = this.#o;
    const dir = dirname(path);
    const base = basename(path);
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.name.startsWith(base + ".")) names.push(e.name);
      }
    } catch {
      return; // no directory yet: the writer makes it
    }
    const plain: number[] = [];
    for (const name of names) {
      const file = join(dir, name);
      if (/^\.(\d+\.)?gz\.tmp$/.test(name.slice(base.length))) {
        // A compression cut short (killed mid-gzip): the plain file is still there.
        await remove(file);
        continue;
      }
      const m = /^\.(\d+)(\.gz)?$/.exec(name.slice(base.length));
      if (!m) continue;
      const index = Number(m[1]);
      const gz = m[2] !== undefined;
      if (index < 1 || index > keep) {
        await remove(file);
        continue;
      }
      if (slots[index]?.gz) {
        await remove(file); // a plain copy whose .gz was finished
        continue;
      }
      if (slots[index] && gz) await remove(this.#name(index, slots[index]!));
      const mtime = (await Deno.stat(file)).mtime?.getTime() ?? Date.now();
      slots[index] = { gz, mtime };
      if (!gz) plain.push(index);
    }
    for (const i of plain) {
      if (this.#o.compress && slots[i] && !slots[i]!.gz) this.#queueCompression(slots[i]!);
    }
    if (this.#o.maxAge > 0) await this.#pruneByAge();
  }

  // Compression runs off the write path, one file at a time.

  #queueCompression(entry: Rotated): void {
    this.#compressing = this.#compressing.then(() => this.#compressOne(entry)).catch(
      this.#o.onCompressError,
    );
  }

  async #compressOne(entry: Rotated): Promise<void> {
    const tmp = `${this.#o.path}.gz.tmp`;
    const src = await this.#dirLock.run(async () => {
      const index = this.#slots?.indexOf(entry) ?? -1;
      if (index < 1 || entry.gz) return null;
      return await Deno.open(this.#name(index, entry)).catch(() => null);
    });
    if (!src) return;
    try {
      const dst = await Deno.open(tmp, {
        write: true,
        create: true,
        truncate: true,
        mode: FILE_MODE,
      })
        .catch((err) => {
          src.close();
          throw err;
        });
      await src.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(dst.writable);
      await this.#dirLock.run(async () => {
        const index = this.#slots?.indexOf(entry) ?? -1;
        if (index < 1) return await remove(tmp); // pruned meanwhile
        const plain = this.#name(index, entry);
        const gz = `${this.#o.path}.${index}.gz`;
        await Deno.rename(tmp, gz);
        entry.gz = true;
        await remove(plain);
        await Deno.utime(gz, new Date(), new Date(entry.mtime));
      });
    } catch (err) {
      this.#o.onCompressError(err);
      await remove(tmp).catch(() => {});
    }
  }
}

async function remove(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
