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
import { compileLogFormat, emptyLine } from "./log_format.ts";
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

/** What a report worker is sent. */
export interface WorkerJob {
  segments: Segment[];
  options: AggregateOptions & { format: string; maxLine?: number };
}

/** What a report worker posts back. */
export type WorkerReply = { state: AggregateState } | { error: string };

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
  else {
    const parts = await divide(segments, jobs);
    const states = await Promise.all(parts.map((p) => runWorker({ segments: p, options })));
    for (const s of states) agg.absorb(s);
  }
  return agg.report(o.files, o.format);
}

/** Count `segments`, in order, into `agg` (a new one when not given). */
export async function aggregateSegments(
  segments: readonly Segment[],
  o: WorkerJob["options"],
  agg = new AccessAggregate(o),
): Promise<AccessAggregate> {
  const compiled = compileLogFormat(o.format);
  if (!compiled.ok) throw new Error(compiled.error);
  const parser = compiled.parser;
  const line = emptyLine();
  const take = (lines: string[]) => {
    for (const l of lines) {
      if (l === "") continue;
      if (parser.parse(l, line)) agg.add(line, l);
      else agg.unparsed(l);
    }
  };
  for (const s of segments) {
    const splitter = new LineSplitter(o.maxLine ?? 16 * 1024);
    for await (const chunk of chunks(s)) take(splitter.push(chunk).lines);
    take(splitter.end());
    agg.lines.cut += splitter.cut;
    agg.lines.binary += splitter.binary;
  }
  return agg;
}

function jobsFor(asked: number | undefined, segments: Segment[]): number {
  if (segments.some((s) => s.file === "-")) return 1;
  if (asked !== undefined) return Math.max(1, Math.floor(asked));
  const bytes = segments.reduce((n, s) => n + weight(s), 0);
  if (bytes < PARALLEL_MIN) return 1;
  return Math.max(1, Math.min(MAX_JOBS, navigator.hardwareConcurrency || 1));
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

function runWorker(job: WorkerJob): Promise<AggregateState> {
  const worker = new Worker(new URL("./report_worker.ts", import.meta.url), { type: "module" });
  return new Promise<AggregateState>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      worker.terminate();
      if ("error" in e.data) reject(new Error(e.data.error));
      else resolve(e.data.state);
    };
    worker.onmessageerror = () => {
      worker.terminate();
      reject(new Error("a report worker's answer could not be read"));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      reject(new Error(e.message));
    };
    worker.postMessage(job);
  });
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
