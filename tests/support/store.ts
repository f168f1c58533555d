/**
 * A started SQLite trace store in a directory, for tests that serve the API
 * over a real store.
 */

import { createStore, type Store } from "../../src/store/store.ts";
import type { Logger } from "../../src/log/logger.ts";

/** A store at `DIR/store.db` (blobs in `DIR/blobs`), started; the caller stops it. */
export async function startTestStore(dir: string, logger: Logger): Promise<Store> {
  const store = createStore({
    url: `sqlite:${dir}/store.db`,
    retention: 86_400_000,
    max_size: 1e9,
    blob_dir: `${dir}/blobs`,
    inline_limit: 5 * 1024,
  }, logger);
  await store.start();
  return store;
}
