/**
 * Large string values, offloaded as the platform does: a string over the
 * inline limit is written once to the blob directory, named by the SHA-256 of
 * its content (never by anything the sender chose), and replaced in the
 * record by a link (`/api/v1/blobs/<sha256>`) the API resolves.
 *
 * Layout: `<dir>/<first two hex digits>/<sha256>`; files are written to
 * `<dir>/tmp/` and renamed into place, so a reader never sees half a blob.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** What a link looks like: this prefix and 64 lowercase hex digits. */
export const BLOB_LINK_PREFIX = "/api/v1/blobs/";
const HASH_RE = /^[0-9a-f]{64}$/;
const LINK_RE = /^\/api\/v1\/blobs\/([0-9a-f]{64})$/;

/** One blob a record links to. */
export interface BlobRef {
  hash: string;
  size: number;
}

/** Options for {@linkcode BlobStore}. */
export interface BlobStoreOptions {
  /** The blob directory (created when first needed). */
  dir: string;
  /**
   * The platform's limit (`store.inline_limit`, 5 KiB): a string is
   * offloaded when its UTF-8 bytes plus {@linkcode PY_BYTES_HEADER} pass it,
   * as the platform's `sys.getsizeof(value.encode()) > 5120` does (5,088
   * bytes and up).
   */
  inlineLimit: number;
}

/** What Python's `sys.getsizeof` adds to a bytes object's length (its header). */
export const PY_BYTES_HEADER = 33;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** True when `hash` is a well-formed blob name. */
export function isBlobHash(hash: string): boolean {
  return HASH_RE.test(hash);
}

/** The hash a link names, or `undefined` when `value` is not a link. */
export function linkHash(value: string): string | undefined {
  return LINK_RE.exec(value)?.[1];
}

/** The content-addressed blob directory. */
export class BlobStore {
  readonly dir: string;
  readonly inlineLimit: number;
  /** Hashes in use by writes not yet committed: garbage collection leaves them alone. */
  readonly #pinned = new Map<string, number>();
  #ready?: Promise<void>;

  constructor(options: BlobStoreOptions) {
    this.dir = options.dir.replace(/\/+$/, "") || ".";
    this.inlineLimit = options.inlineLimit;
  }

  /** The file of blob `hash` (which must be a well-formed hash). */
  pathOf(hash: string): string {
    if (!isBlobHash(hash)) throw new Error(`not a blob hash: ${JSON.stringify(hash)}`);
    return `${this.dir}/${hash.slice(0, 2)}/${hash}`;
  }

  /**
   * Replace, in `value` itself, every string over the inline limit by its
   * link, writing each blob (fsynced) unless it is already there. The hashes
   * stay pinned against garbage collection until {@linkcode unpin}.
   *
   * @returns the blobs `value` now links to.
   */
  async offload(value: unknown, inlineLimit = this.inlineLimit): Promise<BlobRef[]> {
    const found = new Map<string, string>();
    // The most UTF-8 bytes a string may have and stay inline.
    const limit = inlineLimit - PY_BYTES_HEADER;
    /** The link for `v` when it must be offloaded, else undefined. */
    const link = (v: string): string | undefined => {
      if (v.length * 3 <= limit) return undefined;
      const bytes = encoder.encode(v);
      if (bytes.length <= limit) return undefined;
      const hash = createHash("sha256").update(bytes).digest("hex");
      found.set(hash, v);
      return BLOB_LINK_PREFIX + hash;
    };
    const visit = (v: object): void => {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          if (typeof x === "string") {
            if (x.length * 3 > limit) v[i] = link(x) ?? x;
          } else if (typeof x === "object" && x !== null) visit(x);
        }
      } else {
        const o = v as Record<string, unknown>;
        for (const k in o) {
          const x = o[k];
          if (typeof x === "string") {
            if (x.length * 3 > limit) o[k] = link(x) ?? x;
          } else if (typeof x === "object" && x !== null) visit(x);
        }
      }
    };
    if (typeof value === "object" && value !== null) visit(value);
    const refs: BlobRef[] = [];
    for (const [hash, text] of found) {
      this.#pin(hash);
      refs.push({ hash, size: await this.#write(hash, encoder.encode(text)) });
    }
    return refs;
  }

  /** Keep `refs` from garbage collection until as many {@linkcode unpin}s (or the process ends). */
  pin(refs: readonly BlobRef[]): void {
    for (const { hash } of refs) this.#pin(hash);
  }

  /** Release hashes pinned by {@linkcode offload} once their rows are committed (or abandoned). */
  unpin(refs: readonly BlobRef[]): void {
    for (const { hash } of refs) {
      const n = (this.#pinned.get(hash) ?? 1) - 1;
      if (n <= 0) this.#pinned.delete(hash);
      else this.#pinned.set(hash, n);
    }
  }

  /** True while a write in flight uses `hash`. */
  isPinned(hash: string): boolean {
    return this.#pinned.has(hash);
  }

  /** The content of blob `hash`, or `undefined` when there is none. */
  async read(hash: string): Promise<string | undefined> {
    if (!isBlobHash(hash)) return undefined;
    try {
      return decoder.decode(await Deno.readFile(this.pathOf(hash)));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  /**
   * Put the content back in place of every link in `value` whose hash is in
   * `allowed` (the blobs the run is known to link to); returns a new value.
   */
  async expand(value: unknown, allowed: ReadonlySet<string>): Promise<unknown> {
    const cache = new Map<string, string | undefined>();
    const walk = async (v: unknown): Promise<unknown> => {
      if (typeof v === "string") {
        const hash = linkHash(v);
        if (!hash || !allowed.has(hash)) return v;
        if (!cache.has(hash)) cache.set(hash, await this.read(hash));
        return cache.get(hash) ?? v;
      }
      if (Array.isArray(v)) return await Promise.all(v.map(walk));
      if (typeof v === "object" && v !== null) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = await walk(x);
        return out;
      }
      return v;
    };
    return await walk(value);
  }

  /** Remove blob `hash`'s file (gone already is fine). */
  async remove(hash: string): Promise<void> {
    try {
      await Deno.remove(this.pathOf(hash));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /**
   * Every blob file on disk older than `olderThan` (epoch ms), for sweeping
   * files whose rows never got written (a crash between file and commit).
   */
  async *files(olderThan: number): AsyncGenerator<string> {
    let top: Deno.DirEntry[];
    try {
      top = await Array.fromAsync(Deno.readDir(this.dir));
    } catch {
      return;
    }
    for (const d of top) {
      if (!d.isDirectory || !/^[0-9a-f]{2}$/.test(d.name)) continue;
      for await (const f of Deno.readDir(`${this.dir}/${d.name}`)) {
        if (!isBlobHash(f.name)) continue;
        const info = await Deno.stat(`${this.dir}/${d.name}/${f.name}`).catch(() => undefined);
        if (info && (info.mtime?.getTime() ?? 0) < olderThan) yield f.name;
      }
    }
  }

  #pin(hash: string): void {
    this.#pinned.set(hash, (this.#pinned.get(hash) ?? 0) + 1);
  }

  async #write(hash: string, bytes: Uint8Array): Promise<number> {
    const path = this.pathOf(hash);
    try {
      const info = await Deno.stat(path);
      if (info.size === bytes.length) return bytes.length;
    } catch {
      // not there yet
    }
    this.#ready ??= Deno.mkdir(`${this.dir}/tmp`, { recursive: true });
    await this.#ready;
    await Deno.mkdir(`${this.dir}/${hash.slice(0, 2)}`, { recursive: true });
    const tmp = `${this.dir}/tmp/${crypto.randomUUID()}`;
    try {
      using f = await Deno.open(tmp, { write: true, create: true, truncate: true });
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.syncData();
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      this.#ready = undefined;
      throw err;
    }
    await Deno.rename(tmp, path);
    return bytes.length;
  }
}
