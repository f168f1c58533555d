import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { openTestStore, wire } from "./fixtures/store.ts";
import { chatRun, errorRun } from "./fixtures/workflow.ts";

const COMMAND = new URL("../src/cli/traces.ts", import.meta.url).href;
const CONFIG = new URL("../deno.json", import.meta.url);

/** Run `astron-watch traces <args>` (the command itself, in a child process). */
async function traces(dir: string, args: string[], cwd = dir) {
  const shim = `${dir}/shim.ts`;
  await Deno.writeTextFile(
    shim,
    `import { tracesCommand } from ${JSON.stringify(COMMAND)};\n` +
      `try { Deno.exit(await tracesCommand.run(Deno.args)); }\n` +
      `catch (e) { console.error(e.message); Deno.exit(e.name === "UsageError" ? 2 : 1); }\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", fileURLToPath(CONFIG), shim, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("traces list, show and stats read the store named by the config", async (t) => {
  await using ts = await openTestStore();
  const chat = chatRun({ app_id: "app-cli" });
  const failed = errorRun({ app_id: "app-cli" });
  await ts.store.ingestRuns(wire([chat, failed]));
  await ts.store.stop();
  const config = `${ts.dir}/astron-watch.yaml`;
  await Deno.writeTextFile(
    config,
    `store:\n  url: sqlite:${ts.dir}/traces.db\n  blob_dir: ${ts.dir}/blobs\nprobes: []\n`,
  );

  await t.step("list prints a table, newest first", async () => {
    const r = await traces(ts.dir, ["list", "--config", config, "--app-id", "app-cli"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0], /^START \(UTC\)\s+SID\s+APP\s+STATUS/);
    assert.equal(lines.length, 3);
    assert.ok(lines[1].includes(failed.sid) && lines[1].includes("error 20204"));
    assert.ok(lines[2].includes(chat.sid) && lines[2].includes("7568"));
  });

  await t.step("list --status error --json answers as the API does", async () => {
    const r = await traces(ts.dir, ["list", "-c", config, "--status", "error", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const page = JSON.parse(r.stdout);
    assert.deepEqual(page.runs.map((x: { sid: string }) => x.sid), [failed.sid]);
  });

  await t.step("show prints the nodes in execution order", async () => {
    const r = await traces(ts.dir, ["show", chat.sid, "-c", config]);
    assert.equal(r.code, 0, r.stderr);
    const table = r.stdout.slice(r.stdout.indexOf("\n#") + 1).split("\n\n")[0];
    const types = [...table.matchAll(/^\d+ +(\S+) /gm)].map((m) => m[1]);
    assert.deepEqual(types, ["node-start", "knowledge", "llm", "message", "node-end"]);
  });

  await t.step("show prints a failed run's log lines, ERROR first, one line each", async () => {
    const r = await traces(ts.dir, ["show", failed.sid, "-c", config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^status +error 20204 LLM 请求超时 \(Timeout\)$/m);
    const logs = r.stdout.slice(r.stdout.indexOf("logs (errors first):")).split("\n").slice(1)
      .filter((l) => l.startsWith("  "));
    assert.ok(logs.length >= 2, r.stdout);
    assert.match(logs[0], /^ {2}ERROR #\d+ .*: Timeout: LLM 调用超过 30s/);
    const firstOther = logs.findIndex((l) => !l.startsWith("  ERROR"));
    assert.ok(firstOther === -1 || logs.slice(firstOther).every((l) => !l.startsWith("  ERROR")));
    assert.ok(logs.every((l) => l.length <= 162 && !l.includes("\n")));
  });

  await t.step("stats sums tokens by app", async () => {
    const r = await traces(ts.dir, ["stats", "-c", config, "--since", "7d", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const g = JSON.parse(r.stdout).groups.find((x: { key: string }) => x.key === "app-cli");
    assert.equal(g.total_tokens, 7568 + 220);
  });

  await t.step("mistakes are one line and exit 2; an unknown sid exits 1", async () => {
    const bad = await traces(ts.dir, ["list", "-c", config, "--since", "yesterday"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^--since: "yesterday" is not a time/);
    const wrong = await traces(ts.dir, ["show", "../etc/passwd", "-c", config]);
    assert.equal(wrong.code, 2);
    const none = await traces(ts.dir, ["show", "spf-none", "-c", config]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no run with sid spf-none/);
    await Deno.mkdir(`${ts.dir}/empty`);
    const missing = await traces(ts.dir, ["list"], `${ts.dir}/empty`);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no trace store at/);
  });
});
