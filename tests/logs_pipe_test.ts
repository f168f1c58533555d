import assert from "node:assert/strict";
import { join } from "node:path";
import { fileSize, readAllLines, readLogFiles, waitFor } from "./support/log_files.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Start `astron-watch logs ARGS` from the repo root with piped stdio. */
function spawnLogs(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", "logs", ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Run `astron-watch logs ARGS` with `input` on stdin; resolves to its exit code and output. */
async function runLogs(args: string[], input = "") {
  const child = spawnLogs(args);
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

function jsonLines(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += JSON.stringify({ i, pad: "p".repeat(i % 150) }) + "\n";
  return text;
}

/** The `i` of every line; throws when a line is torn. */
async function sequence(path: string): Promise<number[]> {
  return (await readAllLines(path)).map((l) => JSON.parse(l).i);
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("logs pipe writes stdin lines to the file and ends an incomplete last line", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "logs", "app.log");
  const { code, stderr } = await runLogs(["pipe", "--file", path], "one\ntwo\nthree");
  assert.equal(stderr, "");
  assert.equal(code, 0);
  assert.equal(await Deno.readTextFile(path), "one\ntwo\nthree\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("logs pipe keeps every line whole across rotations", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "app.log");
  const n = 30_000;
  const { code } = await runLogs(
    ["pipe", "--file", path, "--max-size", "50KB", "--keep", "1000"],
    jsonLines(0, n),
  );
  assert.equal(code, 0);
  const files = await readLogFiles(path);
  assert.ok(files.length > 20, `only ${files.length} files`);
  for (const f of files) {
    assert.ok(f.text.length <= 50_000, `${f.path} has ${f.text.length} bytes`);
    assert.ok(f.text.endsWith("\n"), `${f.path} ends mid-line`);
  }
  assert.deepEqual(await sequence(path), upTo(n));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("logs pipe writes every line it was given on SIGTERM and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "app.log");
  const child = spawnLogs(["pipe", "--file", path, "--flush-interval", "1m"]);
  const writer = child.stdin.getWriter();
  const n = 5000; // ~0.5 MB: more than a pipe holds, so the reader is running
  await writer.write(encoder.encode(jsonLines(0, n)));
  child.kill("SIGTERM");
  const { code } = await child.output();
  await writer.close().catch(() => {});
  assert.equal(code, 0);
  assert.deepEqual(await sequence(path), upTo(n));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("logs pipe killed with SIGKILL leaves whole lines and loses at most the last flush window", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "app.log");
  const child = spawnLogs(["pipe", "--file", path, "--flush-interval", "100ms"]);
  const writer = child.stdin.getWriter();
  const settled = 3000;
  await writer.write(encoder.encode(jsonLines(0, settled)));
  const settledBytes = encoder.encode(jsonLines(0, settled)).length;
  await waitFor("the settled lines on disk", async () => (await fileSize(path)) === settledBytes);
  await writer.write(encoder.encode(jsonLines(settled, settled + 3000)));
  child.kill("SIGKILL");
  await child.output();
  await writer.close().catch(() => {});
  const seen = await sequence(path);
  assert.deepEqual(seen, upTo(seen.length), "lines missing or out of order");
  assert.ok(seen.length >= settled, `only ${seen.length} of ${settled} settled lines survived`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("logs pipe reopens its file on SIGHUP after it was moved", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "app.log");
  // A long flush interval: only SIGHUP (not the periodic check) can notice the move.
  const child = spawnLogs(["pipe", "--file", path, "--flush-interval", "1m"]);
  const writer = child.stdin.getWriter();
  const first = jsonLines(0, 1000);
  await writer.write(encoder.encode(first));
  await waitFor("the first lines on disk", async () => (await fileSize(path)) === first.length);
  await Deno.rename(path, `${path}.moved`);
  child.kill("SIGHUP");
  // The reopen creates the new file at once (as nginx does): then it was handled.
  await waitFor("the file created again", async () => (await fileSize(path)) === 0);
  await writer.write(encoder.encode(jsonLines(1000, 1100)));
  await waitFor("a new file before EOF", async () => (await fileSize(path)) > 0);
  await writer.close();
  const { code } = await child.output();
  assert.equal(code, 0);
  assert.deepEqual(await sequence(`${path}.moved`), upTo(1000));
  assert.deepEqual(await sequence(path), upTo(1100).slice(1000));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("logs pipe --compress cleans up after a run killed mid-compression before any line comes", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "app.log");
  // What a kill during gzip leaves: an empty temporary file and rotated files still plain.
  await Deno.writeTextFile(`${path}.gz.tmp`, "");
  await Deno.writeTextFile(`${path}.1`, jsonLines(100, 200));
  await Deno.writeTextFile(`${path}.2`, jsonLines(0, 100));
  const child = spawnLogs(["pipe", "--file", path, "--compress", "--flush-interval", "1m"]);
  const writer = child.stdin.getWriter(); // open, and silent: no line comes
  const names = async () => {
    const found: string[] = [];
    for await (const e of Deno.readDir(dir)) found.push(e.name);
    return found.sort();
  };
  await waitFor(
    "the leftovers compressed and the temporary file gone",
    async () => (await names()).join() === "app.log.1.gz,app.log.2.gz",
  );
  await writer.close();
  const { code, stderr } = await child.output();
  assert.equal(decoder.decode(stderr), "");
  assert.equal(code, 0);
  assert.deepEqual(await names(), ["app.log.1.gz", "app.log.2.gz"]);
  assert.deepEqual(await sequence(path), upTo(200));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("logs usage errors exit 2 with one line on stderr", async (t) => {
  const cases = [
    { name: "no --file", args: ["pipe"], error: /--file is required/ },
    { name: "a bad size", args: ["pipe", "--file", "x", "--max-size", "ten"], error: /--max-size/ },
    { name: "a bad count", args: ["pipe", "--file", "x", "--keep", "-1"], error: /--keep|-1/ },
    {
      name: "a zero flush interval",
      args: ["pipe", "--file", "x", "--flush-interval", "0"],
      error: /--flush-interval/,
    },
    { name: "an unknown subcommand", args: ["tail"], error: /unknown subcommand "tail"/ },
    { name: "an unknown flag", args: ["pipe", "--file", "x", "--rotate"], error: /--rotate/ },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { code, stderr } = await runLogs(c.args);
      assert.equal(code, 2);
      assert.match(stderr, c.error);
      assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    });
  }
});

Deno.test("logs --help prints the usage and exits 0", async () => {
  const { code, stdout } = await runLogs(["pipe", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /usage: astron-watch logs pipe --file PATH/);
});
