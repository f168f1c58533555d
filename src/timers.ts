/**
 * Timers for configured durations. A duration in the config is a value and
 * may be as long as the user likes (`retention: 1y`); only a timer is
 * limited: `setTimeout` and `setInterval` take at most 2^31 - 1 ms (about
 * 24.8 days) and fire after 1 ms for anything longer. Every configured
 * duration handed to a timer goes through here.
 *
 * @module
 */

/** The longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay made safe for `setTimeout`/`setInterval`: at most
 * {@linkcode MAX_TIMER_MS}, and at least 0. Use it where waking up early
 * is harmless (a flush); use {@linkcode setLongTimeout} where it is not.
 *
 * @example
 * ```ts
 * setInterval(() => {}, timerDelay(30 * 86_400_000)); // every 24.8 days, not every 1 ms
 * ```
 */
export function timerDelay(ms: number): number {
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_TIMER_MS) : MAX_TIMER_MS;
}

/** A pending {@linkcode setLongTimeout}; `clear()` cancels it (any number of times). */
export interface LongTimeout {
  clear(): void;
}

/**
 * `setTimeout` for any delay: longer ones wait in chunks of at most
 * {@linkcode MAX_TIMER_MS}, so `fn` runs once, after `ms`, never early.
 *
 * @param fn what to run when the time is up.
 * @param ms the delay; values past 2^31 - 1 are fine.
 * @returns the handle to cancel it with.
 * @example
 * ```ts
 * const t = setLongTimeout(() => console.log("a month later"), 30 * 86_400_000);
 * t.clear();
 * ```
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  const due = performance.now() + Math.max(0, ms);
  let handle: ReturnType<typeof setTimeout> | undefined;
  const arm = (left: number) => {
    handle = setTimeout(() => {
      const rest = due - performance.now();
      if (rest >= 1 && left > MAX_TIMER_MS) arm(rest);
      else fn();
    }, timerDelay(left));
  };
  arm(Math.max(0, ms));
  return {
    clear() {
      clearTimeout(handle);
    },
  };
}
