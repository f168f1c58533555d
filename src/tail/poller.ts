/**
 * One followed entry of `access_logs:` or `service_logs:` kept up to date:
 * its {@linkcode Follower} opened from the positions in the store, polled
 * every `poll_interval`, one poll at a time. A poll's failure (the store
 * refused a batch: the position did not move, the lines are read again) and
 * an unreadable file are logged, never thrown; the file problem once until
 * it clears.
 *
 * @module
 */

import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { FollowedEntry } from "../config/followed.ts";
import { Follower, type TailBatch } from "./follower.ts";
import { forgetPositions, loadPositions } from "./positions.ts";
import { errorMessage } from "../errors.ts";

/** Options for {@linkcode TailPoller.open}. */
export interface TailPollerOptions {
  /** The positions' source in the store: `access:nginx`, `service:core`. */
  source: string;
  entry: FollowedEntry;
  db: () => Kysely<Database>;
  logger: Logger;
  /** What the entry is, for the log: `access log`, `service log`. */
  what: string;
  /** Store a batch's lines with its position (see {@linkcode Follower}). */
  take(batch: TailBatch): Promise<void>;
  /** Run after each poll that did not fail (periodic saves). */
  afterPoll?(): Promise<void>;
}

/** A followed entry polled on its interval. */
export class TailPoller {
  readonly follower: Follower;
  readonly #o: TailPollerOptions;
  #timer?: ReturnType<typeof setTimeout>;
  #running = false;
  #warned = false;
  /** The poll under way, if any. */
  polling?: Promise<void>;

  private constructor(o: TailPollerOptions, follower: Follower) {
    this.#o = o;
    this.follower = follower;
  }

  /** The entry's follower, from the positions stored for `source`. */
  static async open(o: TailPollerOptions): Promise<TailPoller> {
    const db = o.db();
    const follower = new Follower({
      path: o.entry.path,
      maxLine: o.entry.max_line,
      positions: await loadPositions(db, o.source),
      take: (b) => o.take(b),
      forget: (keys) => forgetPositions(o.db(), o.source, keys),
    });
    return new TailPoller(o, follower);
  }

  /** Poll now, then every `poll_interval`, until {@linkcode TailPoller.stop}. */
  start(): void {
    this.#running = true;
    this.#schedule(0);
  }

  /** Stop polling; resolves once the poll under way is done. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.polling;
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(async () => {
      await this.poll();
      this.#schedule(this.#o.entry.poll_interval);
    }, ms);
  }

  /** Poll now, or join the poll under way. */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      const log = this.#o.entry.name;
      try {
        await this.follower.poll();
        await this.#o.afterPoll?.();
        const problem = this.follower.problem;
        if (problem && !this.#warned) {
          this.#o.logger.warn(`${this.#o.what} not readable`, { log, problem });
        }
        this.#warned = problem !== undefined;
      } catch (err) {
        this.#o.logger.warn(`${this.#o.what} lines not stored; retrying`, {
          log,
          err: errorMessage(err),
        });
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }
}
