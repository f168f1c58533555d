/**
 * Opening the store named by the config for a shell command that reads it
 * (`traces`, `services`, `metrics`), without the agent and without its
 * background work.
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import { Logger } from "../log/logger.ts";
import { createStore, type Store } from "../store/store.ts";
import { err, EXIT } from "./command.ts";

/**
 * Open the store the config names, for reading, without background work.
 *
 * @returns the started store, or the exit code after a message on stderr.
 */
export async function openStoreForReading(
  path: string | undefined,
  command: string,
): Promise<Store | number> {
  const loaded = await loadConfig({ path });
  if (!loaded.ok) {
    for (const p of loaded.problems) err(formatProblem(p));
    return EXIT.usage;
  }
  const config = loaded.config.store;
  const file = /^sqlite:(?:\/\/)?(.+)$/i.exec(config.url)?.[1];
  if (file && file !== ":memory:") {
    try {
      await Deno.stat(file);
    } catch {
      err(`astron-watch ${command}: no trace store at ${file} (store.url; has the agent run?)`);
      return EXIT.failure;
    }
  }
  const store = createStore(config, new Logger(), { background: false });
  try {
    await store.start();
  } catch (e) {
    err(`astron-watch ${command}: ${(e as Error).message}`);
    return EXIT.failure;
  }
  return store;
}
