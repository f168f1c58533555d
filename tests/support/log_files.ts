/**
 * Test helpers for rotated log files: list them oldest first, read them
 * (gunzipping `.gz`), and wait for something to show up on disk.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/** One log file on disk: its path, `.N` index (0 for the live file) and content. */
export interface LogFile {
  path: string;
  index: number;
  text: string;
}

/** The live file and its rotated files, oldest (`.N`) first, live file last. */
export async function readLogFiles(path: string): Promise<LogFile[]> {
  const dir = dirname(path);
  const base = basename(path);
  const found: { path: string; index: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name === base) found.push({ path, index: 0 });
    const m = e.name.startsWith(base + ".") && /^\.(\d+)(\.gz)?$/.exec(e.name.slice(base.length));
    if (m) found.push({ path: join(dir, e.name), index: Number(m[1]) });
  }
  const age = (f: { index: number }) => f.index === 0 ? -1 : f.index;
  found.sort((a, b) => age(b) - age(a));
  // A file listed may be gone by the time it is read (rotation or pruning
  // running meanwhile): it is left out, as a later listing would.
  const read = await Promise.all(found.map(async (f) => {
    try {
      return { ...f, text: await readText(f.path) };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }));
  return read.filter((f): f is LogFile => f !== undefined);
}

/** A file's text; `.gz` files are decompressed. */
export async function readText(path: string): Promise<string> {
  if (!path.endsWith(".gz")) return await Deno.readTextFile(path);
  const file = await Deno.open(path);
  const plain = file.readable.pipeThrough(new DecompressionStream("gzip"));
  return await new Response(plain).text();
}

/** Every line of every log file, oldest first (without the `\n`). */
export async function readAllLines(path: string): Promise<string[]> {
  const text = (await readLogFiles(path)).map((f) => f.text).join("");
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

/** Resolve after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it is true; throw after `timeout` ms naming `what`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeout = 5000,
): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** The size of a file, or -1 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return -1;
  }
}
