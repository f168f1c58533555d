/**
 * Which files of some directories are open for writing, by any process we
 * can see: Linux's `/proc/PID/fd/N` links name each open file and
 * `/proc/PID/fdinfo/N` its `flags:` (octal; the access mode `O_WRONLY` (1)
 * or `O_RDWR` (2) in the low two bits means writing). Processes whose `fd`
 * directory we may not read (another user's, without privileges) are
 * skipped and counted; the caller's other protections must cover them.
 *
 * @module
 */

import { join } from "node:path";
import { errorMessage } from "../errors.ts";

/** Files open for writing, by directory, or why nobody can tell. */
export type OpenFilesResult =
  | {
    ok: true;
    /** For each directory asked about (as given): the names of its files open for writing. */
    writing: Map<string, Set<string>>;
    /** Processes whose descriptors could not be read (skipped). */
    unreadable: number;
  }
  | { ok: false; error: string };

/** Options for {@linkcode findOpenForWriting}. */
export interface OpenFilesOptions {
  /** Where procfs is mounted (default `/proc`). */
  proc?: string;
}

/** The `flags:` line of an fdinfo file means writing (`O_WRONLY` or `O_RDWR`). */
export function flagsMeanWriting(fdinfo: string): boolean {
  const m = /^flags:\s*([0-7]+)$/m.exec(fdinfo);
  if (!m) return true; // unknown: assume the worst
  const mode = parseInt(m[1], 8) & 3;
  return mode === 1 || mode === 2;
}

/**
 * Find the files directly inside `dirs` that some process has open for writing.
 *
 * @param dirs directories; symlinks are resolved (the kernel names real paths).
 * @returns the names per directory, or `{ ok: false }` when procfs cannot be read at all.
 * @example
 * ```ts
 * const r = await findOpenForWriting(["/opt/core/logs"]);
 * if (r.ok) console.log(r.writing.get("/opt/core/logs")); // Set { "core.log" }
 * ```
 */
export async function findOpenForWriting(
  dirs: readonly string[],
  options: OpenFilesOptions = {},
): Promise<OpenFilesResult> {
  const proc = options.proc ?? "/proc";
  const writing = new Map<string, Set<string>>();
  const byReal = new Map<string, Set<string>>();
  for (const dir of dirs) {
    const names = new Set<string>();
    writing.set(dir, names);
    const real = await Deno.realPath(dir).catch(() => undefined);
    if (real) byReal.set(real === "/" ? "/" : real + "/", names);
  }
  if (!byReal.size) return { ok: true, writing, unreadable: 0 };
  const pids: string[] = [];
  try {
    for await (const e of Deno.readDir(proc)) if (/^\d+$/.test(e.name)) pids.push(e.name);
  } catch (err) {
    return { ok: false, error: `${proc}: ${errorMessage(err)}` };
  }
  if (!pids.length) {
    return { ok: false, error: `${proc}: no processes listed (is procfs mounted?)` };
  }
  let unreadable = 0;
  for (const pid of pids) {
    const fdDir = join(proc, pid, "fd");
    const fds: string[] = [];
    try {
      for await (const e of Deno.readDir(fdDir)) fds.push(e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) unreadable++; // NotFound: it just exited
      continue;
    }
    await Promise.all(fds.map(async (fd) => {
      const target = await Deno.readLink(join(fdDir, fd)).catch(() => undefined);
      if (!target) return;
      const slash = target.lastIndexOf("/");
      const names = byReal.get(target.slice(0, slash + 1));
      if (!names) return;
      const info = await Deno.readTextFile(join(proc, pid, "fdinfo", fd)).catch((err) =>
        err instanceof Deno.errors.NotFound ? undefined : "" // closed meanwhile / unknown
      );
      if (info !== undefined && flagsMeanWriting(info)) names.add(target.slice(slash + 1));
    }));
  }
  return { ok: true, writing, unreadable };
}
