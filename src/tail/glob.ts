/**
 * File globs for the followers: `*`, `?` and `[...]` in any path segment,
 * expanded by reading directories (no `**`). A directory that cannot be
 * read yields nothing.
 *
 * @module
 */

/** Whether a path segment has glob characters. */
export function hasGlob(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/** A glob segment as a regex: `*.log` -> `/^[^/]*\.log$/`. */
export function segmentRegex(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        const body = segment.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** The regular files a glob names now, sorted. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "");
  let bases = [absolute ? "/" : "."];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const base of bases) {
      const join = (name: string) => base === "/" ? `/${name}` : `${base}/${name}`;
      if (!hasGlob(seg)) {
        next.push(join(seg));
        continue;
      }
      const re = segmentRegex(seg);
      try {
        for await (const e of Deno.readDir(base)) {
          if (re.test(e.name) && (last ? !e.isDirectory : !e.isFile)) next.push(join(e.name));
        }
      } catch {
        // unreadable or gone: nothing matches here
      }
    }
    bases = next;
  }
  const files: string[] = [];
  for (const p of bases) {
    try {
      if ((await Deno.stat(p)).isFile) files.push(absolute ? p : p.replace(/^\.\//, ""));
    } catch {
      // not there (a literal path that does not exist yet)
    }
  }
  return files.sort();
}
