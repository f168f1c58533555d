/**
 * Files that survive a crash whole or not at all: written under a
 * temporary name, fsynced, then renamed; and the directory fsynced so the
 * rename itself survives.
 *
 * @module
 */

import { dirname } from "node:path";

/**
 * Write `text` to `path` whole: into `path.tmp`, fsynced, renamed, and the
 * directory fsynced. A write that fails leaves no `.tmp` behind.
 *
 * @example
 * ```ts
 * import { writeDurably } from "./durable.ts";
 * await writeDurably("/tmp/state.json", "{}\n");
 * ```
 */
export async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    using file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.syncData();
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await Deno.rename(tmp, path);
  await syncDir(dirname(path));
}

/** fsync a directory, so a rename in it survives a crash (where the platform allows). */
export async function syncDir(dir: string): Promise<void> {
  try {
    using d = await Deno.open(dir, { read: true });
    await d.sync();
  } catch {
    // not every filesystem lets a directory be synced; the rename is done either way
  }
}
