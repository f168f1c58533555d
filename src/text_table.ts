/**
 * Plain-text tables for `curl` and the shell: left-aligned columns two
 * spaces apart, widths counted in characters (so CJK text lines up as well
 * as a terminal allows), the last column never padded.
 *
 * @example
 * ```ts
 * import { textTable } from "./text_table.ts";
 * console.log(textTable(["PROBE", "STATE"], [["nginx", "up"], ["mysql", "down"]]));
 * ```
 *
 * @module
 */

/** `header` and `rows` as aligned lines, each ending in `\n`. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const width = (s: string) => [...s].length;
  const widths = header.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ""))));
  return all.map((r) =>
    r.map((c, i) => i === r.length - 1 ? c : c + " ".repeat(widths[i] - width(c))).join("  ")
      .trimEnd()
  ).join("\n") + "\n";
}
