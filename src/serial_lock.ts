/**
 * A lock for async work: tasks given to one {@linkcode SerialLock} run one
 * after another, in the order given, whatever each one's outcome.
 *
 * @example
 * ```ts
 * import { SerialLock } from "./serial_lock.ts";
 * const lock = new SerialLock();
 * const a = lock.run(async () => 1);
 * const b = lock.run(async () => 2); // starts after a settles
 * console.log(await a + await b);
 * ```
 *
 * @module
 */

/** Runs async tasks one at a time, in order. */
export class SerialLock {
  #tail: Promise<void> = Promise.resolve();

  /** Run `task` after every task given before it has settled; resolves to its result. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.then(() => {}, () => {});
    return result;
  }

  /** Resolves once every task given so far has settled. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
