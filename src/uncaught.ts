/**
 * The agent's last line of defence: an error thrown where no caller can
 * catch it (in a library's timer or socket callback, such as a database
 * driver whose connection dropped mid-write) is reported and counted, and
 * the process keeps running instead of exiting with everything it holds.
 *
 * @module
 */

/** Errors caught by {@linkcode keepRunning} since start. */
export const uncaught = { errors: 0 };

/**
 * Report uncaught errors and unhandled rejections to `report` instead of
 * exiting. Returns a function that removes the handlers.
 *
 * @example
 * ```ts
 * import { keepRunning } from "./uncaught.ts";
 * const stop = keepRunning((err) => console.error("uncaught", err));
 * stop();
 * ```
 */
export function keepRunning(report: (err: unknown) => void): () => void {
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    uncaught.errors++;
    report(e.error ?? e.message);
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    uncaught.errors++;
    report(e.reason);
  };
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => {
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
}
