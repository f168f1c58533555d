/**
 * `access-log report`: read nginx access logs (plain, `.gz`, or stdin) in one
 * pass and build the v1 report. Large plain files are cut at line starts
 * into one contiguous part per worker (`jobs`); each worker counts its part
 * into an aggregate of its own and the parts are absorbed in file order, so
 * the report is the one a single pass gives (top lists past their exact
 * size aside, whose error bounds add up).
 *
 * @module
 */

import { AccessAggregate, type AggregateOptions, type AggregateState } from "./aggregate.ts";
import { compileLogFormat, emptyLine, type LineParser } from "./log_format.ts";
import { readFrom } from "../tail/follower.ts";
import { LineSplitter } from "../tail/lines.ts";
import type { AccessReport } from "./report_schema.ts";

/** Options for {@linkcode buildReport}. */
export interface ReportOptions extends AggregateOptions {
  /** Files to read; `-` is stdin. */
  files: string[];
  /** The `log_format` text. */
  format: string;
  maxLine?: number;
  /**
   * Workers reading in parallel. Default: one per core (at most
   * {@linkcode MAX_JOBS}) when the input is at least {@linkcode PARALLEL_MIN}
   * bytes, else 1 (read in this thread). Stdin is always read in this thread.
   */
  jobs?: number;
}

/** Input below this many bytes is read in this thread unless `jobs` says otherwise: a worker costs ~50 ms to start. */
export const PARALLEL_MIN = 32 * 1024 * 1024;
/** Most workers by default. */
export const MAX_JOBS = 4;
/** A `.gz` file counts as this many times its size when parts are weighed (text compresses about so much). */
const GZ_WEIGHT = 6;

/** A piece of the input: bytes `[start, end)` of a plain file, a whole `.gz` file, or stdin (`-`). */
export interface Segment {
  file: string;
  gz: boolean;
  start: number;
  end: number;
}

/** What the counting needs: the aggregate's options, the `log_format` text and the longest line. */
export type CountOptions = AggregateOptions & { format: string; maxLine?: number };

/** What a report worker is sent: its part of the input, or a stream of chunks to come. */
export type WorkerJob = { segments: Segment[]; options: CountOptions } | { stream: CountOptions };

/** What a streamed worker is sent after its job: whole lines, then the end. */
export type StreamMessage = { chunk: Uint8Array } | { end: true };

/** What a report worker posts back: its state at the end, `ack` for each chunk taken, or why it failed. */
export type WorkerReply = { state: AggregateState } | { ack: true } | { error: string };

/** Read every file and build the report. Throws on an unreadable file or a bad format (its message names it). */
export async function buildReport(o: ReportOptions): Promise<AccessReport> {
  const compiled = compileLogFormat(o.format);
  if (!compiled.ok) throw new Error(compiled.error);
  const segments = await Promise.all(o.files.map(wholeFile));
  const options = {
    routes: o.routes,
    client: o.client,
    since: o.since,
    until: o.until,
    topCapacity: o.topCapacity,
    format: o.format,
    maxLine: o.maxLine,
  };
  const agg = new AccessAggregate(options);
  const jobs = jobsFor(o.jobs, segments);
  if (jobs <= 1) await aggregateSegments(segments, options, agg);
  else if (segments.length === 1 && isStream(segments[0])) {
    for (const s of await streamToWorkers(segments[0], options, jobs)) agg.absorb(s);
  } else {
    const parts = await divide(segments, jobs);
    const states = await Promise.all(parts.map((p) => runWorker({ segments: p, options })));
    for (const s of states) agg.absorb(s);
  }
  return agg.report(o.files, o.format);
}

/** Lines counted into an aggregate: bytes in (a line splitter per input), requests counted. */
export class LineCounter {
  readonly agg: AccessAggregate;
  readonly #parser: LineParser;
  readonly #line = emptyLine();
  readonly #maxLine: number;
  #splitter: LineSplitter;

  constructor(o: CountOptions, agg = new AccessAggregate(o)) {
    this.agg = agg;
    const compiled = compileLogFormat(o.format);
    if (!compiled.ok) throw new Error(compiled.error);
    this.#parser = compiled.parser;
    this.#maxLine = o.maxLine ?? 16 * 1024;
    this.#splitter = new LineSplitter(this.#maxLine);
  }

  /** The next bytes of the input being read. */
  push(bytes: Uint8Array): void {
    this.#take(this.#splitter.push(bytes).lines);
  }

  /** The input ended: its last line, and its cut and binary lines counted. */
  endInput(): void {
    this.#take(this.#splitter.end());
    this.agg.lines.cut += this.#splitter.cut;
    this.agg.lines.binary += this.#splitter.binary;
    this.#splitter = new LineSplitter(this.#maxLine);
  }

  #take(lines: string[]): void {
    const line = this.#line;
    for (const l of lines) {
      if (l === "") continue;
      if (this.#parser.parse(l, line)) this.agg.add(line, l);
      else this.agg.unparsed(l);
    }
  }
}

/** Count `segments`, in order, into `agg` (a new one when not given). */
export async function aggregateSegments(
  segments: readonly Segment[],
  o: CountOptions,
  agg = new AccessAggregate(o),
): Promise<AccessAggregate> {
  const counter = new LineCounter(o, agg);
  for (const s of segments) {
    for await (const chunk of chunks(s)) counter.push(chunk);
    counter.endInput();
  }
  return agg;
}

function jobsFor(asked: number | undefined, segments: Segment[]): number {
  const alone = segments.length === 1;
  // Stdin among other files is read in this thread; alone, its size is unknown: assume large.
  if (!alone && segments.some((s) => s.file === "-")) return 1;
  if (asked !== undefined) return Math.max(1, Math.floor(asked));
  const bytes = segments[0]?.file === "-" && alone
    ? Infinity
    : segments.reduce((n, s) => n + weight(s), 0);
  if (bytes < PARALLEL_MIN) return 1;
  return Math.max(1, Math.min(MAX_JOBS, navigator.hardwareConcurrency || 1));
}

/** Stdin or a `.gz` file: read (and decompressed) in one place, in order. */
function isStream(s: Segment): boolean {
  return s.file === "-" || s.gz;
}

/** Lines sent to a streamed worker at a time, about. */
const STREAM_CHUNK = 1024 * 1024;
/** Chunks a streamed worker may hold before the reader waits for it. */
const STREAM_WINDOW = 2;

/**
 * A stream (stdin, a `.gz` file) read in this thread and its whole lines
 * handed out in chunks of about {@linkcode STREAM_CHUNK} to `jobs` workers
 * in turn, each holding at most {@linkcode STREAM_WINDOW} at a time (the
 * reader waits for them, so memory stays bounded). Each worker's state, in
 * worker order: counts are exact; samples and examples are the first of
 * each worker's share, not of the whole stream.
 */
async function streamToWorkers(
  s: Segment,
  options: CountOptions,
  jobs: number,
): Promise<AggregateState[]> {
  const workers = Array.from({ length: jobs }, () => new ReportWorker({ stream: options }));
  try {
    let next = 0;
    let pending: Uint8Array[] = [];
    let size = 0;
    const send = async (bytes: Uint8Array) => {
      if (bytes.length) await workers[next++ % jobs].send(bytes);
    };
    for await (const piece of chunks(s)) {
      pending.push(piece);
      size += piece.length;
      if (size < STREAM_CHUNK) continue;
      const data = join(pending, size);
      // Whole lines only; a line longer than 16 chunks goes as it is (the worker cuts it).
      const nl = data.lastIndexOf(10);
      const cut = nl >= 0 ? nl + 1 : size >= 16 * STREAM_CHUNK ? size : 0;
      await send(data.subarray(0, cut));
      pending = cut < size ? [data.slice(cut)] : [];
      size -= cut;
    }
    await send(join(pending, size));
    return await Promise.all(workers.map((w) => w.finish()));
  } finally {
    for (const w of workers) w.terminate();
  }
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

/**
 * A report worker: given its part of the input, or given a stream job and
 * then sent chunks of whole lines, a few at a time.
 */
class ReportWorker {
  readonly #worker = new Worker(new URL("./report_worker.ts", import.meta.url), {
    type: "module",
  });
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  #failed?: Error;
  readonly #state: Promise<AggregateState>;
  readonly #streamed: boolean;

  constructor(job: WorkerJob) {
    this.#streamed = "stream" in job;
    this.#state = new Promise<AggregateState>((resolve, reject) => {
      const fail = (err: Error) => {
        this.#failed ??= err;
        for (const wake of this.#waiting.splice(0)) wake();
        reject(this.#failed);
      };
      this.#worker.onmessage = (e: MessageEvent<WorkerReply>) => {
        const m = e.data;
        if ("ack" in m) {
          this.#inFlight--;
          this.#waiting.shift()?.();
        } else if ("state" in m) resolve(m.state);
        else fail(new Error(m.error));
      };
      this.#worker.onmessageerror = () =>
        fail(new Error("a report worker's answer could not be read"));
      this.#worker.onerror = (e) => {
        e.preventDefault();
        fail(new Error(e.message));
      };
    });
    this.#state.catch(() => {}); // surfaced by send or finish
    this.#worker.postMessage(job);
  }

  /** Hand over whole lines (the buffer is transferred); waits while the worker holds its window. */
  async send(bytes: Uint8Array): Promise<void> {
    while (this.#inFlight >= STREAM_WINDOW && !this.#failed) {
      await new Promise<void>((r) => this.#waiting.push(r));
    }
    if (this.#failed) throw this.#failed;
    this.#inFlight++;
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes
      : bytes.slice();
    this.#worker.postMessage({ chunk: own } satisfies StreamMessage, [own.buffer as ArrayBuffer]);
  }

  /** The worker's state, once its part is counted (a streamed worker is told no more lines come). */
  finish(): Promise<AggregateState> {
    if (this.#streamed && !this.#failed) {
      this.#worker.postMessage({ end: true } satisfies StreamMessage);
    }
    return this.#state;
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

async function wholeFile(file: string): Promise<Segment> {
  if (file === "-") return { file, gz: false, start: 0, end: 0 };
  const size = (await Deno.stat(file)).size;
  let gz = file.endsWith(".gz");
  if (!gz) {
    using f = await Deno.open(file);
    const magic = new Uint8Array(2);
    gz = (await f.read(magic)) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  }
  return { file, gz, start: 0, end: size };
}

function weight(s: Segment): number {
  return (s.end - s.start) * (s.gz ? GZ_WEIGHT : 1);
}

/**
 * Cut the segments into `jobs` contiguous parts of about equal weight:
 * plain files are cut at the start of a line, `.gz` files stay whole.
 */
export async function divide(segments: readonly Segment[], jobs: number): Promise<Segment[][]> {
  const share = segments.reduce((n, s) => n + weight(s), 0) / jobs;
  const parts: Segment[][] = [];
  let part: Segment[] = [];
  let filled = 0;
  const close = () => {
    parts.push(part);
    part = [];
    filled = 0;
  };
  for (let s of segments) {
    for (;;) {
      const room = share - filled;
      if (parts.length === jobs - 1 || s.gz || weight(s) <= room) {
        part.push(s);
        filled += weight(s);
        if (filled >= share && parts.length < jobs - 1) close();
        break;
      }
      const cut = await lineStart(s.file, s.start + Math.ceil(room), s.end);
      if (cut > s.start) part.push({ ...s, end: cut });
      close();
      if (cut >= s.end) break;
      s = { ...s, start: cut };
    }
  }
  if (part.length) parts.push(part);
  return parts.filter((p) => p.length);
}

/** The offset of the first line that starts at or after `pos` (`end` when none does). */
async function lineStart(file: string, pos: number, end: number): Promise<number> {
  if (pos <= 0) return 0;
  using f = await Deno.open(file);
  await f.seek(pos - 1, Deno.SeekMode.Start);
  const buf = new Uint8Array(64 * 1024);
  for (let at = pos - 1; at < end;) {
    const n = await f.read(buf);
    if (!n) break;
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0) return Math.min(end, at + nl + 1);
    at += n;
  }
  return end;
}

/** Count one part of the input in a worker of its own. */
async function runWorker(job: WorkerJob): Promise<AggregateState> {
  const worker = new ReportWorker(job);
  try {
    return await worker.finish();
  } finally {
    worker.terminate();
  }
}

async function* chunks(s: Segment): AsyncGenerator<Uint8Array> {
  if (s.file === "-") yield* stdinChunks();
  else yield* readFrom(s.file, s.gz, s.start, s.gz ? 0 : s.end, 4 * 1024 * 1024);
}

/** Stdin, gunzipped when it starts with gzip's magic (`cat access.log.2.gz | ...`). */
async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  const reader = Deno.stdin.readable.getReader();
  const first = await reader.read();
  if (first.done) return;
  const rest = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(first.value);
    },
    async pull(c) {
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
  });
  const gz = first.value[0] === 0x1f && first.value[1] === 0x8b;
  const stream = gz
    ? rest.pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : rest;
  for await (const chunk of stream) yield chunk;
}
