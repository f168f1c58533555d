/**
 * File globs for the followers and housekeeping: `*`, `?`, `[...]` and
 * `{a,b}` in any path segment, expanded by reading directories (no `**`).
 * A directory that cannot be read yields nothing.
 *
 * @module
 */

/**
 * Compile a file-name glob: `*` and `?` (never matching `/`), `[abc]`,
 * `[!abc]`, `{a,b}`. A leading `*` or `?` does not match a leading dot,
 * as in the shell.
 *
 * @example
 * ```ts
 * globToRegExp("*.log").test("core.log"); // true
 * globToRegExp("*.log").test(".hidden.log"); // false
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  let inBraces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negated = body[0] === "!" || body[0] === "^";
      if (negated) body = body.slice(1);
      re += `[${negated ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "{") {
      inBraces++;
      re += "(?:";
    } else if (c === "}" && inBraces > 0) {
      inBraces--;
      re += ")";
    } else if (c === "," && inBraces > 0) re += "|";
    else re += c.replace(/[.+^$()|\\{}\]]/g, "\\$&");
  }
  re += ")".repeat(inBraces);
  const hidden = glob.startsWith(".") ? "" : "(?!\\.)";
  return new RegExp(`^${hidden}${re}$`);
}

/** True when a glob has wildcard characters (`*`, `?`, `[`, `{`). */
export function hasGlob(text: string): boolean {
  return /[*?[{]/.test(text);
}

/**
 * What a glob names now, sorted: regular files, or with `kind: "directory"`
 * directories (symlinks to them included).
 */
export async function expandGlob(
  pattern: string,
  kind: "file" | "directory" = "file",
): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "");
  let bases = [absolute ? "/" : "."];
  for (const seg of segments) {
    const next: string[] = [];
    for (const base of bases) {
      const join = (name: string) => base === "/" ? `/${name}` : `${base}/${name}`;
      if (!hasGlob(seg)) {
        next.push(join(seg));
        continue;
      }
      const re = globToRegExp(seg);
      try {
        for await (const e of Deno.readDir(base)) if (re.test(e.name)) next.push(join(e.name));
      } catch {
        // unreadable or gone: nothing matches here
      }
    }
    bases = next;
  }
  const found: string[] = [];
  for (const p of bases) {
    const st = await Deno.stat(p).catch(() => undefined);
    if (kind === "file" ? st?.isFile : st?.isDirectory) {
      found.push(absolute ? p : p.replace(/^\.\//, ""));
    }
  }
  return found.sort();
}
