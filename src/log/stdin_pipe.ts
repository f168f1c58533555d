/**
 * Stdin lines into a {@linkcode RotatingFileSink}, as fast as `cat` reads:
 * a worker does blocking reads into a shared ring buffer, so the main
 * thread stays free for signals and the flush timer (an async read per
 * 64 KiB pipe chunk costs several times more). The main thread hands whole
 * lines, as bytes, to the sink; nothing is decoded. SIGTERM/SIGINT stop
 * once stdin is quiet; SIGHUP reopens the file.
 *
 * This module is also the reader worker's entry point (one module, so
 * `deno compile` carries it without extra files).
 *
 * @module
 */

import type { RotatingFileSink } from "./rotating_file_sink.ts";
import { errorMessage } from "../errors.ts";

// ---- the stdin ring ----------------------------------------------------
//
// The worker fills `data` and advances WRITTEN; the main thread hands whole
// lines to the sink and advances CONSUMED. Positions are byte counters that
// wrap at 2^32; RING is a power of two, so `pos & (RING - 1)` is the offset.

const RING = 4 * 1024 * 1024;
const WRITTEN = 0;
const CONSUMED = 1;
const STATE = 2;
const RUNNING = 0;
const ENDED = 1;
const NL = 10;
const WORKER_NAME = "astron-watch-stdin";
/** After SIGTERM/SIGINT: stop once stdin is quiet this long (or at EOF)... */
const STOP_QUIET_MS = 100;
/** ...or this long after the signal, even if the producer keeps writing. */
const STOP_MAX_MS = 2000;
/** Let timers and signals in at least this often while stdin streams. */
const YIELD_MS = 20;
/** A pipe read this big means the pipe was full: the producer is ahead of us. */
const PIPE_BUF_FULL = 64 * 1024;
/** While the producer is ahead, the reader wakes the main thread once per this many bytes... */
const WAKE_BYTES = 1024 * 1024;
/** ...and the main thread looks anyway this often, for a burst that ended on a full read. */
const NAP_MS = 20;

/**
 * Copy stdin to `sink` until EOF or SIGTERM/SIGINT, then close the sink;
 * resolves to a read error, if any.
 */
export async function pipeStdin(sink: RotatingFileSink): Promise<string | undefined> {
  const data = new Uint8Array(new SharedArrayBuffer(RING));
  const ctrl = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  let stopAt = 0;
  const stop = () => {
    stopAt ||= performance.now();
    Atomics.notify(ctrl, WRITTEN); // wake the waiting loop
  };
  const hup = () => void sink.reopen();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  Deno.addSignalListener("SIGHUP", hup);
  // Tidy up after a run that was killed (a half-written .gz.tmp, rotated
  // files left uncompressed) now, not when the first line comes.
  await sink.open();

  // Start reading only now: a signal that comes with the first line is handled.
  let readError: string | undefined;
  const worker = new Worker(import.meta.url, { type: "module", name: WORKER_NAME });
  worker.onmessage = (e: MessageEvent<string>) => (readError = e.data);
  worker.onerror = (e) => {
    e.preventDefault();
    readError = e.message;
    Atomics.store(ctrl, STATE, ENDED);
    Atomics.notify(ctrl, WRITTEN);
  };
  worker.postMessage({ data, ctrl });
  try {
    await consume(data, ctrl, sink, () => stopAt);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    Deno.removeSignalListener("SIGHUP", hup);
    await sink.close();
    worker.terminate();
  }
  return readError;
}

async function consume(
  data: Uint8Array,
  ctrl: Int32Array,
  sink: RotatingFileSink,
  stoppedAt: () => number,
): Promise<void> {
  let consumed = 0;
  let yielded = performance.now();
  for (;;) {
    const ended = Atomics.load(ctrl, STATE) !== RUNNING; // before WRITTEN: then WRITTEN is final
    const written = Atomics.load(ctrl, WRITTEN);
    const avail = (written - consumed) >>> 0;
    const stopAt = stoppedAt();
    const giveUp = stopAt > 0 && performance.now() - stopAt > STOP_MAX_MS;
    const [lines, used] = avail > 0 ? takeLines(data, consumed, avail, ended || giveUp) : NONE;
    if (used > 0) {
      await sink.writeChunk(lines); // straight from the ring: no copy
      consumed = (consumed + used) | 0;
      Atomics.store(ctrl, CONSUMED, consumed);
      Atomics.notify(ctrl, CONSUMED);
      if (performance.now() - yielded > YIELD_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        yielded = performance.now();
      }
      continue;
    }
    if (ended || giveUp) return;
    const wait = Atomics.waitAsync(ctrl, WRITTEN, written, stopAt ? STOP_QUIET_MS : NAP_MS);
    const outcome = wait.async ? await wait.value : wait.value;
    yielded = performance.now();
    if (outcome === "timed-out" && stoppedAt()) {
      // Quiet after a stop signal: write what is left, even a partial line.
      const rest = (Atomics.load(ctrl, WRITTEN) - consumed) >>> 0;
      if (rest > 0) await sink.writeChunk(takeLines(data, consumed, rest, true)[0]);
      return;
    }
  }
}

const NONE: [Uint8Array, number] = [new Uint8Array(0), 0];

/**
 * The whole lines among `avail` bytes at `from`: a view into the ring (a
 * copy for a line that wraps around its end) and the ring bytes it covers
 * (0: only part of a line is here yet). With `final`, or when the ring is
 * full of one line, a partial line comes too (the sink ends it).
 */
function takeLines(
  data: Uint8Array,
  from: number,
  avail: number,
  final: boolean,
): [Uint8Array, number] {
  const start = from & (RING - 1);
  const first = Math.min(avail, RING - start);
  const head = data.subarray(start, start + first);
  const nl = head.lastIndexOf(NL);
  if (nl !== -1) return [head.subarray(0, nl + 1), nl + 1];
  // No newline before the end of the ring: the line may go on at its start.
  const wrapped = data.subarray(0, avail - first);
  const end = wrapped.indexOf(NL);
  const take = end !== -1 ? end + 1 : final || avail === RING ? wrapped.length : -1;
  if (take === -1) return NONE;
  if (take === 0) return [head, first];
  const line = new Uint8Array(first + take);
  line.set(head);
  line.set(wrapped.subarray(0, take), first);
  return [line, first + take];
}

/** The worker's side: blocking reads of stdin into the ring until EOF. */
function readStdin(data: Uint8Array, ctrl: Int32Array): void {
  let written = 0;
  let unannounced = 0;
  for (;;) {
    const consumed = Atomics.load(ctrl, CONSUMED);
    const used = (written - consumed) >>> 0;
    if (used === RING) {
      Atomics.wait(ctrl, CONSUMED, consumed);
      continue;
    }
    const start = written & (RING - 1);
    const n = Deno.stdin.readSync(
      data.subarray(start, start + Math.min(RING - used, RING - start)),
    );
    if (n === null) break;
    written = (written + n) | 0;
    Atomics.store(ctrl, WRITTEN, written);
    // Wake the main thread at once when stdin ran dry (a short read: the
    // producer is not ahead, so latency matters), else once per WAKE_BYTES:
    // a fast stream then costs a wake-up per MiB, not per 64 KiB pipe read.
    unannounced += n;
    if (n < PIPE_BUF_FULL || unannounced >= WAKE_BYTES) {
      Atomics.notify(ctrl, WRITTEN);
      unannounced = 0;
    }
  }
  Atomics.store(ctrl, STATE, ENDED);
  Atomics.notify(ctrl, WRITTEN);
}

interface WorkerScope {
  name: string;
  onmessage: ((e: MessageEvent<{ data: Uint8Array; ctrl: Int32Array }>) => void) | null;
  postMessage(message: unknown): void;
}

// This module is also the reader worker's entry point (one module, so
// `deno compile` carries it without extra files).
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  if (scope.name === WORKER_NAME) {
    scope.onmessage = ({ data: { data, ctrl } }) => {
      try {
        readStdin(data, ctrl);
      } catch (e) {
        scope.postMessage(errorMessage(e));
        Atomics.store(ctrl, STATE, ENDED);
        Atomics.notify(ctrl, WRITTEN);
      }
    };
  }
}
