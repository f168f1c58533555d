/**
 * The probe scheduler: runs each probe every `interval` from a fixed schedule
 * (no drift: the next run is due one interval after the last was due, not
 * after it ended), with start-up jitter, a bound on probes running at once,
 * and a hard deadline: a hung target never holds a slot past its timeout.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { formatDuration } from "../config/units.ts";
import type { ProbeBoard } from "./board.ts";
import { percentile } from "../stats.ts";
import type { Probe, ProbeRegistry, ProbeResult } from "./types.ts";
import { redactResult } from "./redact.ts";
import { type LongTimeout, setLongTimeout } from "../timers.ts";

/** Options for {@linkcode ProbeScheduler}. */
export interface ProbeSchedulerOptions {
  registry: ProbeRegistry;
  board: ProbeBoard;
  logger: Logger;
  /** Most probes running at once; default 64. */
  maxConcurrent?: number;
  /** Called as each run starts; what it returns is called with the result (the metrics hook). */
  onRun?: (config: ProbeConfig) => (result: ProbeResult) => void;
}

interface Task {
  config: ProbeConfig;
  dueAt: number;
  timer?: LongTimeout;
  running?: Promise<void>;
  stopped: boolean;
}

/** How long a probe may take, after its deadline aborted it, to report its own reason. */
export const DEADLINE_GRACE_MS = 25;

/**
 * Run `probe` with a hard deadline: at `timeoutMs` the signal aborts; the
 * probe's own result (its reason and the phases it reached) is taken if it
 * comes within {@linkcode DEADLINE_GRACE_MS}, else a plain timeout result,
 * even if the probe ignores the signal.
 */
export async function runWithDeadline(
  run: (signal: AbortSignal) => Promise<ProbeResult>,
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<ProbeResult> {
  const started_at = Date.now();
  const t0 = performance.now();
  const controller = new AbortController();
  const onOuter = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", onOuter, { once: true });
  const timers: LongTimeout[] = [];
  const deadline = new Promise<ProbeResult>((resolve) => {
    timers.push(setLongTimeout(() => {
      controller.abort(new DOMException("probe timed out", "TimeoutError"));
      timers.push(setLongTimeout(() => {
        resolve({
          ok: false,
          code: "timeout",
          reason: `timed out after ${formatDuration(timeoutMs)}`,
          phases: { total: Math.round((performance.now() - t0) * 1000) / 1000 },
          started_at,
        });
      }, DEADLINE_GRACE_MS));
    }, timeoutMs));
  });
  const own = run(controller.signal).then((result) =>
    controller.signal.aborted && result.ok
      ? {
        ...result,
        ok: false,
        code: "timeout" as const,
        reason: `timed out after ${formatDuration(timeoutMs)}`,
      }
      : result
  );
  try {
    return await Promise.race([own, deadline]);
  } finally {
    for (const t of timers) t.clear();
    outer?.removeEventListener("abort", onOuter);
    controller.abort();
  }
}

/**
 * Run one probe of `config` under its deadline: the way every probe result
 * comes to be, for the scheduler and the `probe` command alike. The result's
 * reason has every secret of the config (passwords, credential headers and
 * query parameters) replaced by `***`, whatever the target echoed back.
 *
 * @param probe the probe for `config.type`.
 * @param outer aborts the run early (the scheduler stopping).
 */
export async function runProbe(
  probe: Probe,
  config: ProbeConfig,
  outer?: AbortSignal,
): Promise<ProbeResult> {
  const result = await runWithDeadline(
    (signal) => probe(config, { signal }),
    config.timeout,
    outer,
  );
  return redactResult(result, config);
}

/** A probe config as text for change checks (a RegExp by its source and flags, not `{}`). */
function sameness(config: ProbeConfig): string {
  return JSON.stringify(config, (_k, v) => v instanceof RegExp ? `/${v.source}/${v.flags}` : v);
}

/** Runs the configured probes on their schedules until stopped. */
export class ProbeScheduler {
  readonly #options: ProbeSchedulerOptions;
  readonly #tasks = new Map<string, Task>();
  readonly #waiting: (() => void)[] = [];
  readonly #stop = new AbortController();
  readonly #lags: number[] = [];
  #running = 0;

  constructor(options: ProbeSchedulerOptions) {
    this.#options = options;
  }

  /** Start (or re-plan) the schedule for `configs`: removed probes stop, new ones start, changed ones restart. */
  update(configs: readonly ProbeConfig[]): void {
    this.#options.board.sync(configs);
    const wanted = new Map(configs.map((c) => [c.name, c]));
    for (const [name, task] of this.#tasks) {
      const next = wanted.get(name);
      if (!next || sameness(next) !== sameness(task.config)) this.#cancel(name);
    }
    const now = Date.now();
    for (const config of configs) {
      if (this.#tasks.has(config.name)) continue;
      const jitter = config.jitter > 0 ? Math.floor(Math.random() * config.jitter) : 0;
      const task: Task = { config, dueAt: now + jitter, stopped: false };
      this.#tasks.set(config.name, task);
      this.#arm(task);
    }
  }

  /** Stop scheduling, abort probes in flight, and wait for them to end. */
  async stop(): Promise<void> {
    this.#stop.abort();
    const running = [...this.#tasks.values()].map((t) => t.running);
    for (const name of [...this.#tasks.keys()]) this.#cancel(name);
    for (const wake of this.#waiting.splice(0)) wake();
    await Promise.all(running);
  }

  /** How late runs started against their schedule (ms), over the last 4096 runs. */
  lag(): { p50: number | null; p99: number | null; max: number | null; runs: number } {
    const sorted = [...this.#lags].sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? null,
      runs: sorted.length,
    };
  }

  /** How many probes are running now. */
  get inFlight(): number {
    return this.#running;
  }

  #cancel(name: string): void {
    const task = this.#tasks.get(name);
    if (!task) return;
    task.stopped = true;
    task.timer?.clear();
    this.#tasks.delete(name);
  }

  #arm(task: Task): void {
    if (task.stopped) return;
    // Intervals, jitter and timeouts may pass what setTimeout can wait (about 24.8 days).
    task.timer = setLongTimeout(() => this.#fire(task), task.dueAt - Date.now());
  }

  #fire(task: Task): void {
    const { interval } = task.config;
    this.#lags.push(Date.now() - task.dueAt);
    if (this.#lags.length > 4096) this.#lags.splice(0, this.#lags.length - 4096);
    task.dueAt += interval;
    const now = Date.now();
    // A stall (a suspended host) skips the missed runs instead of bursting them.
    if (task.dueAt <= now) task.dueAt += Math.ceil((now - task.dueAt + 1) / interval) * interval;
    // A run still waiting for a slot makes this one redundant: skip it.
    if (!task.running) {
      task.running = this.#runOnce(task).finally(() => {
        task.running = undefined;
      });
    }
    this.#arm(task);
  }

  async #runOnce(task: Task): Promise<void> {
    await this.#acquire();
    try {
      if (task.stopped || this.#stop.signal.aborted) return;
      const { config } = task;
      const probe = this.#options.registry[config.type];
      const done = this.#options.onRun?.(config);
      const result = await runProbe(probe, config, this.#stop.signal);
      done?.(result);
      if (task.stopped) return;
      const before = this.#options.board.status(config.name)?.state;
      const state = this.#options.board.record(config.name, result);
      if (state !== before && state !== "pending") {
        const log = this.#options.logger.child({ probe: config.name });
        if (state === "down") log.warn("probe down", { code: result.code, reason: result.reason });
        else log.info("probe up", { ms: result.phases.total });
      }
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    const max = this.#options.maxConcurrent ?? 64;
    if (this.#running < max) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#running++;
        resolve();
      })
    );
  }

  #release(): void {
    this.#running--;
    this.#waiting.shift()?.();
  }
}
