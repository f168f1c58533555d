/**
 * `deno task bench`: run every benchmark in this folder, one after another
 * (each prints its own table with its baseline measured in the same run).
 * Benchmarks are never part of the tests or CI.
 */

const here = new URL(".", import.meta.url).pathname;
const only = Deno.args[0];
const files = [...Deno.readDirSync(here)]
  .filter((e) => e.isFile && e.name.endsWith(".ts") && e.name !== "run_all.ts")
  .map((e) => e.name)
  .filter((name) => !only || name.startsWith(only))
  .sort();
if (files.length === 0) console.log("no benchmarks yet");
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file}\n`);
  const status = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", here + file] })
    .spawn().status;
  if (!status.success) failed++;
}
Deno.exit(failed ? 1 : 0);
