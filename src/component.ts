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

/** What {@linkcode lazyComponent} needs to know of the part it loads. */
export interface LazyPart<T extends { stop(): Promise<void> }> {
  name: string;
  /** The config the agent runs with now. */
  config: () => Config;
  /** Whether `config` asks for the part (its section has entries). */
  wanted: (config: Config) => boolean;
  /** Import the part's modules, make it and start it; it is `current()` once this resolves. */
  load: (config: Config) => Promise<void>;
  /** The part, once loaded. */
  current: () => T | undefined;
  /** Hand a new config to the loaded part. */
  reload: (part: T, config: Config) => Promise<void> | void;
  readiness?: () => string | undefined;
}

/**
 * A part whose modules load only when the config asks for it: at start, or
 * at the first reload that does. Once loaded, reloads go to it (it may then
 * have nothing left to do) and stop stops it.
 */
export function lazyComponent<T extends { stop(): Promise<void> }>(part: LazyPart<T>): Component {
  return {
    name: part.name,
    start: async () => {
      const config = part.config();
      if (part.wanted(config)) await part.load(config);
    },
    stop: async () => {
      await part.current()?.stop();
    },
    reload: async (config) => {
      const current = part.current();
      if (current) await part.reload(current, config);
      else if (part.wanted(config)) await part.load(config);
    },
    ...(part.readiness ? { readiness: part.readiness } : {}),
  };
}
