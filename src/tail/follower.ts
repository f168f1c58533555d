/**
 * Follows a file or a glob, and each file's rotated siblings, through
 * rename-and-create and copytruncate rotation, and reads rotated `.gz` files
 * once.
 *
 * A file's content is a *stream*, known by where it was first seen
 * (`dev:ino`) and the hash of its first line. The stream's offset is always
 * at a line's end, and it moves only when the consumer has made the lines
 * durable (`take` resolves) together with the new offset, so a restart
 * neither skips nor repeats a line.
 *
 * - rename-and-create: the old inode keeps its stream under its new name
 *   (`access.log.1`) and is read to its end; the new live file is a new stream.
 * - copytruncate: the live inode's first line changes (or it shrinks below
 *   the offset); its stream lives on in the copy, which has the same first
 *   line, and is read from the offset there. The truncated file starts a new
 *   stream at 0.
 * - compression: `access.log.2.gz` has the first line of the stream it was
 *   made from; it is read (decompressed) only from where that stream stopped.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";
import { expandGlob, hasGlob } from "./glob.ts";
import { isCompressed, seriesOf } from "./series.ts";
import { LineSplitter } from "./lines.ts";

/** A stream's saved position (a row of `tail_positions`). */
export interface TailPosition {
  key: string;
  ino: string;
  head: string;
  path: string;
  offset: number;
  /** A `.gz` file read to its end (`ino:size:mtime`): not decompressed again, after a restart too. */
  ended?: string;
}

/** Lines read from one file, with the position to save with them. */
export interface TailBatch {
  path: string;
  lines: string[];
  position: TailPosition;
}

/** What one poll did. */
export interface PollResult {
  bytes: number;
  lines: number;
  /** Files present and followed. */
  files: number;
}

/** Options for {@linkcode Follower}. */
export interface FollowerOptions {
  /** A file or a glob. */
  path: string;
  maxLine: number;
  /** Positions saved before (from the store). */
  positions: readonly TailPosition[];
  /** Make the lines and the position durable; rejecting leaves the position where it was. */
  take(batch: TailBatch): Promise<void>;
  /** Most bytes handed over in one batch (default 256 KiB). */
  batchBytes?: number;
  /**
   * Drop the saved positions of streams gone for good (their file no longer
   * there, or another file at their last path) for {@linkcode FollowerOptions.forgetAfter};
   * rejecting keeps them for the next poll.
   */
  forget?(keys: string[]): Promise<void>;
  /** How long a stream must be gone before it is forgotten, ms (default 1 h). */
  forgetAfter?: number;
}

/** A followed file as `stats()` shows it. */
export interface FollowedFile {
  path: string;
  size: number;
  offset: number;
  /** Bytes not read yet. */
  behind: number;
}

interface Stream extends TailPosition {
  /** Seen at the last poll. */
  present: boolean;
  size: number;
  mtime: number;
  gz: boolean;
  /** When a poll first did not find it (cleared when found again). */
  goneSince?: number;
}

const HEAD_BYTES = 1024;

/** Follows one `path` (file or glob). Call `poll()` on a timer. */
export class Follower {
  readonly #o: FollowerOptions;
  readonly #streams = new Map<string, Stream>();
  /** Cached first-line hashes of `.gz` files, by `ino:size:mtime`. */
  readonly #gzHeads = new Map<string, string | undefined>();
  readonly #batchBytes: number;
  /** Lines cut at `maxLine`, and lines skipped for binary bytes, since start. */
  cut = 0;
  binary = 0;
  /** What the last poll could not read, if anything. */
  problem?: string;

  constructor(options: FollowerOptions) {
    this.#o = options;
    this.#batchBytes = options.batchBytes ?? 256 * 1024;
    for (const p of options.positions) {
      this.#streams.set(p.key, {
        ...p,
        present: false,
        size: 0,
        mtime: 0,
        gz: p.path.endsWith(".gz"),
      });
    }
  }

  /** Files followed at the last poll. */
  files(): FollowedFile[] {
    return [...this.#streams.values()].filter((s) => s.present).map((s) => ({
      path: s.path,
      size: s.size,
      offset: s.offset,
      behind: s.gz ? 0 : Math.max(0, s.size - s.offset),
    }));
  }

  /** Read everything there is now, handing it to `take` in batches. */
  async poll(): Promise<PollResult> {
    const result: PollResult = { bytes: 0, lines: 0, files: 0 };
    const found = await this.#candidates();
    if (!found.length) {
      this.problem = `no file matches ${this.#o.path}`;
      for (const s of this.#streams.values()) s.present = false;
      return result;
    }
    this.problem = undefined;
    const files: { path: string; ino: string; size: number; mtime: number; gz: boolean }[] = [];
    for (const path of found) {
      try {
        const st = await Deno.stat(path);
        if (!st.isFile) continue;
        files.push({
          path,
          ino: `${st.dev}:${st.ino}`,
          size: st.size,
          mtime: st.mtime?.getTime() ?? 0,
          gz: path.endsWith(".gz"),
        });
      } catch {
        // gone between listing and stat: next poll
      }
    }
    const byIno = new Map<string, Stream>();
    for (const s of this.#streams.values()) {
      s.present = false;
      byIno.set(s.ino, s);
    }
    // Known inodes first, so truncated streams are known before copies are matched.
    const work: { stream: Stream; path: string }[] = [];
    const fresh: typeof files = [];
    for (const f of files) {
      const s = byIno.get(f.ino);
      if (!s || f.gz) {
        fresh.push(f);
        continue;
      }
      const head = await this.#head(f.path, false, f);
      if (head === undefined) {
        // Truncated to less than a line: the stream lives on only in a copy.
        if (f.size < s.offset) s.ino = "";
        continue;
      }
      if (head !== s.head || f.size < s.offset) {
        s.ino = ""; // this inode now holds other content: a new stream below
        fresh.push(f);
        continue;
      }
      s.present = true;
      s.path = f.path;
      s.size = f.size;
      s.mtime = f.mtime;
      work.push({ stream: s, path: f.path });
    }
    for (const f of fresh) {
      const head = await this.#head(f.path, f.gz, f);
      if (head === undefined) continue;
      const live = basename(f.path) === seriesOf(basename(f.path));
      // A rotated name with the first line of a stream already followed: a
      // copy or a compressed copy. Read it from where the stream stopped,
      // unless the stream's own file is still here.
      const same = live
        ? undefined
        : [...this.#streams.values()].find((s) =>
          s.head === head && seriesOf(basename(s.path)) === seriesOf(basename(f.path))
        );
      if (same) {
        if (same.present) continue;
        same.ino = f.ino;
        same.path = f.path;
        same.gz = f.gz;
        same.size = f.size;
        same.mtime = f.mtime;
        same.present = true;
        if (same.ended !== `${f.ino}:${f.size}:${f.mtime}`) {
          work.push({ stream: same, path: f.path });
        }
        continue;
      }
      // The key is unique even when this inode held another stream before
      // (copytruncate): that one may live on in a copy.
      const s: Stream = {
        key: `${f.ino}:${head.slice(0, 8)}`,
        ino: f.ino,
        head,
        path: f.path,
        offset: 0,
        present: true,
        size: f.size,
        mtime: f.mtime,
        gz: f.gz,
      };
      this.#streams.set(s.key, s);
      work.push({ stream: s, path: f.path });
    }
    // Older files first: rotated ones before the live file of their series.
    work.sort((a, b) => (live(a.path) ? 1 : 0) - (live(b.path) ? 1 : 0));
    result.files = work.length;
    for (const { stream, path } of work) {
      const r = await this.#read(stream, path);
      result.bytes += r.bytes;
      result.lines += r.lines;
    }
    await this.#forgetGone();
    return result;
  }

  /**
   * Forget the streams gone for `forgetAfter`: not found at a poll since,
   * and their last path names no file or another one (a file there that
   * cannot be read is not gone). Otherwise every rotated file ever seen
   * would stay in memory and in the store.
   */
  async #forgetGone(): Promise<void> {
    const now = Date.now();
    const gone: string[] = [];
    for (const [key, s] of this.#streams) {
      if (s.present) {
        s.goneSince = undefined;
        continue;
      }
      s.goneSince ??= now;
      if (now - s.goneSince < (this.#o.forgetAfter ?? 3_600_000)) continue;
      try {
        const st = await Deno.lstat(s.path);
        if (`${st.dev}:${st.ino}` === s.ino) continue;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) continue;
      }
      gone.push(key);
    }
    if (!gone.length) return;
    try {
      await this.#o.forget?.(gone);
    } catch {
      return; // kept: tried again at the next poll
    }
    for (const key of gone) this.#streams.delete(key);
  }

  /** The files the glob names and their rotated siblings. */
  async #candidates(): Promise<string[]> {
    const matched = await expandGlob(this.#o.path);
    const series = new Set(matched.map((p) => `${dirname(p)}/${seriesOf(basename(p))}`));
    const dirs = new Set(matched.map((p) => dirname(p)));
    // A live file absent right now (between rename and create) still names its series.
    if (!hasGlob(this.#o.path)) {
      series.add(`${dirname(this.#o.path)}/${basename(this.#o.path)}`);
      dirs.add(dirname(this.#o.path));
    }
    const out = new Set(matched);
    for (const dir of dirs) {
      try {
        for await (const e of Deno.readDir(dir)) {
          // Only gzip is read; a `.xz` or `.zst` rotation is left alone.
          if (!e.isFile || (isCompressed(e.name) && !e.name.endsWith(".gz"))) continue;
          if (series.has(`${dir}/${seriesOf(e.name)}`)) out.add(`${dir}/${e.name}`);
        }
      } catch {
        // the directory is gone: nothing to add
      }
    }
    return [...out];
  }

  /** The hash of a file's first line (or first KiB), or undefined while it has neither. */
  async #head(
    path: string,
    gz: boolean,
    f: { ino: string; size: number; mtime: number },
  ): Promise<string | undefined> {
    const cacheKey = `${f.ino}:${f.size}:${f.mtime}`;
    if (gz && this.#gzHeads.has(cacheKey)) return this.#gzHeads.get(cacheKey);
    let bytes: Uint8Array | undefined;
    try {
      bytes = gz ? await gunzipHead(path) : await readHead(path);
    } catch {
      return undefined;
    }
    const nl = bytes.indexOf(10);
    const head = nl >= 0
      ? bytes.subarray(0, nl)
      : bytes.length >= HEAD_BYTES
      ? bytes.subarray(0, HEAD_BYTES)
      : undefined;
    const hash = head && createHash("sha1").update(head).digest("hex").slice(0, 20);
    if (gz) {
      if (this.#gzHeads.size > 1000) this.#gzHeads.clear();
      this.#gzHeads.set(cacheKey, hash);
    }
    return hash;
  }

  /** Read a stream from its offset to the file's end, in batches. */
  async #read(stream: Stream, path: string): Promise<{ bytes: number; lines: number }> {
    const done = { bytes: 0, lines: 0 };
    if (!stream.gz && stream.size <= stream.offset) return done;
    const splitter = new LineSplitter(this.#o.maxLine);
    let offset = stream.offset;
    let lines: string[] = [];
    let bytes = 0;
    /** Hand over what was read; `ended`: the file was read to its end, saved with it. */
    const flush = async (ended?: string) => {
      if (!lines.length && offset === stream.offset && ended === stream.ended) return;
      const position = { ...positionOf(stream), path, offset, ...(ended ? { ended } : {}) };
      await this.#o.take({ path, lines, position });
      if (ended) stream.ended = ended;
      done.bytes += offset - stream.offset;
      done.lines += lines.length;
      stream.offset = offset;
      lines = [];
      bytes = 0;
      // A batch is a few milliseconds of parsing and a transaction that
      // resolves at once: give timers (a probe falling due) their turn.
      await new Promise((r) => setTimeout(r, 0));
    };
    // A rotated file nobody wrote to for a while is finished, and so is a `.gz`.
    const finished = stream.gz || (!live(path) && Date.now() - stream.mtime > 10_000);
    try {
      for await (const chunk of readFrom(path, stream.gz, stream.offset, stream.size)) {
        const r = splitter.push(chunk);
        offset += r.consumed;
        for (const l of r.lines) if (l !== "") lines.push(l);
        bytes += chunk.length;
        if (bytes >= this.#batchBytes) await flush();
      }
      // A finished file's last line without its newline is still a line.
      if (finished && splitter.pending) {
        offset += splitter.pending;
        for (const l of splitter.end()) if (l !== "") lines.push(l);
      }
      await flush(stream.gz ? `${stream.ino}:${stream.size}:${stream.mtime}` : undefined);
    } finally {
      this.cut += splitter.cut;
      this.binary += splitter.binary;
    }
    return done;
  }
}

function live(path: string): boolean {
  const name = basename(path);
  return name === seriesOf(name);
}

function positionOf(s: Stream): TailPosition {
  const p: TailPosition = { key: s.key, ino: s.ino, head: s.head, path: s.path, offset: s.offset };
  if (s.ended) p.ended = s.ended;
  return p;
}

async function readHead(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const buf = new Uint8Array(HEAD_BYTES);
  let n = 0;
  while (n < buf.length) {
    const r = await file.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return buf.subarray(0, n);
}

async function gunzipHead(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  const reader = file.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < HEAD_BYTES) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.length;
      if (value.indexOf(10) >= 0) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The bytes of a file from `offset`: a plain file up to `size` (what it had
 * when looked at), a `.gz` file decompressed to its end.
 */
export async function* readFrom(
  path: string,
  gz: boolean,
  offset: number,
  size: number,
  chunk = 1024 * 1024,
): AsyncGenerator<Uint8Array> {
  if (gz) {
    const file = await Deno.open(path);
    const reader = file.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
    let skip = offset;
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        if (skip >= value.length) {
          skip -= value.length;
          continue;
        }
        yield skip ? value.subarray(skip) : value;
        skip = 0;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    return;
  }
  using file = await Deno.open(path);
  await file.seek(offset, Deno.SeekMode.Start);
  let left = size - offset;
  while (left > 0) {
    const buf = new Uint8Array(Math.min(chunk, left));
    const n = await file.read(buf);
    if (n === null || n === 0) break;
    left -= n;
    yield buf.subarray(0, n);
  }
}
