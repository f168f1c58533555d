import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Logger } from "../src/log/logger.ts";
import { MetricRollups } from "../src/rollups/rollups.ts";
import { openTestStore } from "./fixtures/store.ts";
import { Clock, knownStream } from "./fixtures/platform_metrics.ts";

const CONFIG = new URL("../deno.json", import.meta.url);

/** Run `astron-watch <command> <args>` (the command module itself, in a child process). */
async function cli(dir: string, module: string, name: string, args: string[]) {
  const shim = `${dir}/${name}_shim.ts`;
  const url = new URL(`../src/cli/${module}`, import.meta.url).href;
  await Deno.writeTextFile(
    shim,
    `import { ${name} } from ${JSON.stringify(url)};\n` +
      `try { Deno.exit(await ${name}.run(Deno.args)); }\n` +
      `catch (e) { console.error(e.message); Deno.exit(e.name === "UsageError" ? 2 : 1); }\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", fileURLToPath(CONFIG), shim, ...args],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("services and metrics query read the rollups in the store named by the config", async (t) => {
  await using ts = await openTestStore();
  // The known stream, ending at the start of this minute.
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 360_000;
  const clock = new Clock(t0);
  const sink = new MetricRollups({ store: ts.store, logger: new Logger(), now: clock.now });
  for (const { at, metrics } of knownStream(t0)) {
    clock.t = at;
    await sink.take(metrics, at);
  }
  await sink.stop();
  await ts.store.stop();
  const config = `${ts.dir}/astron-watch.yaml`;
  await Deno.writeTextFile(
    config,
    `store:\n  url: sqlite:${ts.dir}/traces.db\n  blob_dir: ${ts.dir}/blobs\nprobes: []\n`,
  );
  const services = (args: string[]) =>
    cli(ts.dir, "services.ts", "servicesCommand", ["-c", config, ...args]);
  const metrics = (args: string[]) =>
    cli(ts.dir, "metrics.ts", "metricsCommand", ["-c", config, ...args]);

  await t.step("services --json answers as the API does", async () => {
    const r = await services(["--window", "10m", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.window_seconds, 600);
    const [svc] = body.services;
    assert.equal(svc.service, "core-workflow");
    assert.equal(svc.requests, 210);
    assert.equal(svc.errors, 30);
    assert.deepEqual(svc.latency_ms, { p50: 9.375, p90: 145, p99: 239.5, count: 140 });
  });

  await t.step("services prints each service with its functions beneath", async () => {
    const r = await services(["--window", "10m"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SERVICE \/ FUNC\s+REQ\/MIN\s+ERRORS\s+ERR%\s+P50\s+P90\s+P99/m);
    // Requests per minute depend on the second the command runs at (the window is from now).
    assert.match(r.stdout, /^core-workflow\s+\d+\.\d\s+30\s+14\.29%\s+9\.38ms\s+145ms\s+240ms/m);
    assert.match(
      r.stdout,
      /^ {2}chat\s+\d+\.\d\s+30\s+20\.00%\s+8\.13ms\s+175ms\s+243ms\s+498ms\s+3$/m,
    );
  });

  await t.step("metrics query prints a table, or JSON with --json", async () => {
    const range = ["--since", String(t0 + 60_000), "--until", String(t0 + 360_000)];
    const r = await metrics([
      "query",
      "--name",
      "server_request_total",
      "--by",
      "func",
      "--step",
      "5m",
      ...range,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual(
      body.series.map((s: { labels: unknown; points: [number, number][] }) => [
        s.labels,
        Math.round(s.points[0][1] * 300),
      ]),
      [[{ func: "chat" }, 135], [{ func: "upload" }, 54]],
    );
    const text = await metrics([
      "query",
      "--name",
      "server_request_time_microseconds",
      "--q",
      "0.5",
      "--step",
      "5m",
      ...range,
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^server_request_time_microseconds \(histogram\): quantile 0\.5/);
    assert.match(text.stdout, /\(all\)\s+9\.38ms$/m);
  });

  await t.step("mistakes are usage errors, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["query"], /--name is required/],
      [["list"], /unknown action "list"/],
      [["query", "--name", "x", "--step", "90s"], /--step:/],
    ];
    for (const [args, message] of cases) {
      const r = await metrics(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, message);
    }
    const w = await services(["--window", "later"]);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /--window: "later"/);
  });
});
