/**
 * A report worker: counts its part of the input (a {@linkcode WorkerJob})
 * and posts back the aggregate's state, its typed arrays transferred.
 *
 * @module
 */

import { aggregateSegments, type WorkerJob, type WorkerReply } from "./report.ts";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<WorkerJob>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
};

scope.onmessage = async (e) => {
  try {
    const state = (await aggregateSegments(e.data.segments, e.data.options)).state();
    const transfer: ArrayBuffer[] = [
      state.statusN.buffer,
      state.statusBytes.buffer,
      state.visitors.buffer,
      state.time.counts.buffer,
      ...state.routes.flatMap(([, r]) => r.time ? [r.time.counts.buffer] : []),
    ] as ArrayBuffer[];
    scope.postMessage({ state }, transfer);
  } catch (err) {
    scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
