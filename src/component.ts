/**
 * The lifecycle every part of the agent shares: the agent starts components
 * in order, stops them in reverse, asks each whether it is ready and hands
 * each a reloaded config. Any module may import this one; it imports only the type of the config.
 *
 * @module
 */

import type { Config } from "./config/schema.ts";

/** A part of the agent with a lifecycle. */
export interface Component {
  readonly name: string;
  /** Start; reject with the reason when the component cannot run. */
  start(): Promise<void>;
  /** Stop taking work, finish what is in flight, release everything. */
  stop(): Promise<void>;
  /** `undefined` when ready, else what is wrong. */
  readiness?(): string | undefined;
  /** Apply a new, already validated config. */
  reload?(config: Config): Promise<void> | void;
}
