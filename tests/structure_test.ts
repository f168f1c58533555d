/**
 * The module graph of `src/` has no cycles (type imports and dynamic
 * imports count: a cycle is a cycle to the next reader), as `deno info`
 * reports it from every entry point.
 */

import assert from "node:assert/strict";
import { ROOT } from "./support/agent.ts";

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** The `src/` import graph reachable from `entry`. */
async function graph(entry: string): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  const src = new URL("src/", `file://${ROOT}`).href;
  const g = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!m.specifier.startsWith(src)) continue;
    const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter((s): s is string => !!s && s.startsWith(src));
    g.set(m.specifier.slice(src.length), [...new Set(deps)].map((s) => s.slice(src.length)));
  }
  return g;
}

/** Every cycle found by a depth-first walk, as module paths. */
function cycles(g: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (u: string) => {
    state.set(u, "open");
    stack.push(u);
    for (const v of g.get(u) ?? []) {
      if (state.get(v) === "open") found.push([...stack.slice(stack.indexOf(v)), v]);
      else if (!state.has(v)) visit(v);
    }
    stack.pop();
    state.set(u, "done");
  };
  for (const u of g.keys()) if (!state.has(u)) visit(u);
  return found;
}

Deno.test("src/ has no import cycles, from the command line or the library entry", async () => {
  for (const entry of ["main.ts", "src/mod.ts"]) {
    const g = await graph(entry);
    assert.ok(g.size > 10, `${entry}: only ${g.size} modules found`);
    assert.deepEqual(cycles(g).map((c) => c.join(" -> ")), [], entry);
  }
});
