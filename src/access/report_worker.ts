/**
 * A report worker. Sent its part of the input (a {@linkcode WorkerJob} with
 * segments), it counts it and posts back the aggregate's state. Sent a
 * stream job, it counts each chunk of whole lines it is sent (answering
 * `ack`) until the end, then posts its state. Typed arrays are transferred.
 *
 * @module
 */

import {
  aggregateSegments,
  LineCounter,
  type StreamMessage,
  type WorkerJob,
  type WorkerReply,
} from "./report.ts";
import type { AccessAggregate } from "./aggregate.ts";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<WorkerJob | StreamMessage>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
};

function post(agg: AccessAggregate): void {
  const state = agg.state();
  const transfer: ArrayBuffer[] = [
    state.statusN.buffer,
    state.statusBytes.buffer,
    state.visitors.buffer,
    state.time.counts.buffer,
    ...state.routes.flatMap(([, r]) => r.time ? [r.time.counts.buffer] : []),
  ] as ArrayBuffer[];
  scope.postMessage({ state }, transfer);
}

let stream: LineCounter | undefined;

scope.onmessage = async (e) => {
  const m = e.data;
  try {
    if ("segments" in m) post(await aggregateSegments(m.segments, m.options));
    else if ("stream" in m) stream = new LineCounter(m.stream);
    else if ("chunk" in m) {
      stream!.push(m.chunk);
      scope.postMessage({ ack: true });
    } else {
      stream!.endInput();
      post(stream!.agg);
    }
  } catch (err) {
    scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
