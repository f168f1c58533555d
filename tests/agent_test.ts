import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { tcpServer } from "./support/servers.ts";
import { chatRun } from "./fixtures/workflow.ts";

// Tests read the agent's log from its stderr; the file sink writes it beside the config as well.
const listenAnyPort =
  "log:\n  stderr: always\nserver:\n  listen: 127.0.0.1:0\n  shutdown_timeout: 5s\n";

Deno.test("the agent on embedded defaults serves /healthz, /status and /readyz, and SIGTERM exits 0", async () => {
  await using dir = await tempDir();
  // No config file in the working directory: built-in defaults, except the port (tests never use fixed ports).
  await Deno.writeTextFile(`${dir.path}/port.yaml`, listenAnyPort);
  const agent = await spawnAgent({ cwd: dir.path, config: `${dir.path}/port.yaml` });
  try {
    const health = await agent.fetch("/healthz");
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok\n");

    const ready = await agent.fetch("/readyz");
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), "ready\n");

    // The self-probe of the API runs at once and shows in the table.
    await agent.waitForLine((l) => l.msg === "probe up" && l.probe === "astron-watch");
    const table = await (await agent.fetch("/status")).text();
    const lines = table.split("\n");
    assert.match(
      lines[0],
      /^astron-watch \d+\.\d+\.\d+ {2}up \d+s {2}log ok {2}telemetry ok {2}store ok {2}rollups ok {2}otlp_receiver ok {2}history ok {2}api ok {2}probes ok {2}access_logs ok {2}service_logs ok {2}housekeeping ok {2}backups ok {2}alerts ok$/,
    );
    assert.match(
      lines[1],
      /^log logs\/astron-watch\.log: \d+ lines written, 0 dropped, 0 write errors, 0 rotations$/,
    );
    assert.match(
      lines[2],
      /^store: up, 0 spooled, 0 dead letters, records stored 0 spooled 0 rejected 0 refused 0$/,
    );
    assert.match(lines[4], /^PROBE\s+STATE\s+LAST\s+P50\s+P90\s+P99\s+UPTIME\s+LAST ERROR$/);
    assert.match(
      lines[5],
      /^astron-watch\s+up\s+\d+s ago\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+100\.0%\s+-$/,
    );

    const json = await (await agent.fetch("/status", { headers: { Accept: "application/json" } }))
      .json();
    assert.equal(json.probes[0].name, "astron-watch");
    assert.equal(json.probes[0].state, "up");
    assert.deepEqual(json.components.map((c: { component: string }) => c.component), [
      "log",
      "telemetry",
      "store",
      "rollups",
      "otlp_receiver",
      "history",
      "api",
      "probes",
      "access_logs",
      "service_logs",
      "housekeeping",
      "backups",
      "alerts",
    ]);
    const viaQuery = await agent.fetch("/status?format=json");
    assert.equal(viaQuery.headers.get("content-type"), "application/json");
    await viaQuery.body?.cancel();

    agent.kill("SIGTERM");
    const { code, stderr } = await agent.exit();
    // 0: every component drained within its deadline (1 when one missed it).
    assert.equal(code, 0, stderr);
    assert.match(stderr, /"msg":"stopped"/);
    // SIGTERM loses nothing: the file holds every line up to the last one before it closed.
    const file = await Deno.readTextFile(`${dir.path}/logs/astron-watch.log`);
    assert.match(file, /"msg":"listening"/);
    assert.match(file, /"msg":"probe up"/);
    assert.match(file, /"msg":"stopping"/);
  } finally {
    await agent.close();
  }
});

Deno.test("SIGINT drains and exits 0 too", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/c.yaml`, listenAnyPort + "probes: []\n");
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    agent.kill("SIGINT");
    const { code } = await agent.exit();
    assert.equal(code, 0);
  } finally {
    await agent.close();
  }
});

Deno.test("SIGHUP applies a valid new config and refuses an invalid one, keeping the old", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/c.yaml`;
  await using target = tcpServer("closing");
  const port = target.port;
  await Deno.writeTextFile(file, listenAnyPort + "probes: []\n");
  const agent = await spawnAgent({ config: file });
  try {
    const before = await (await agent.fetch("/api/v1/probes")).json();
    assert.deepEqual(before.probes, []);

    await Deno.writeTextFile(
      file,
      listenAnyPort +
        `probes:\n  - { name: db, type: tcp, kind: rely, target: "127.0.0.1:${port}", interval: 1s, timeout: 500ms, jitter: 0s }\n`,
    );
    agent.kill("SIGHUP");
    await agent.waitForLine((l) => l.msg === "reloaded");
    await agent.waitForLine((l) => l.msg === "probe up" && l.probe === "db");
    const after = await (await agent.fetch("/api/v1/probes/db")).json();
    assert.equal(after.state, "up");
    assert.equal(after.target, `127.0.0.1:${port}`);

    await Deno.writeTextFile(
      file,
      listenAnyPort + "probes:\n  - { name: db, type: tcp, target: nowhere }\n",
    );
    agent.kill("SIGHUP");
    const refused = await agent.waitForLine((l) =>
      l.msg === "reload refused: the running config is kept"
    );
    assert.deepEqual(refused.problems, [
      'probes[0].target: "nowhere" is not host:port with a port from 0 to 65535',
    ]);
    const kept = await (await agent.fetch("/api/v1/probes")).json();
    assert.deepEqual(kept.probes.map((p: { name: string }) => p.name), ["db"]);
    const health = await agent.fetch("/healthz");
    assert.equal(health.status, 200);
    await health.body?.cancel();

    agent.kill("SIGTERM");
    assert.equal((await agent.exit()).code, 0);
  } finally {
    await agent.close();
  }
});

Deno.test("a component that cannot start stops the agent with exit 1 and the reason", async () => {
  await using dir = await tempDir();
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await Deno.writeTextFile(
      `${dir.path}/c.yaml`,
      `server:\n  listen: 127.0.0.1:${busy.addr.port}\n`,
    );
    const agent = await spawnAgent({ config: `${dir.path}/c.yaml`, waitListening: false });
    const { code, stderr } = await agent.exit();
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(
        `^astron-watch run: api failed to start: cannot listen on 127\\.0\\.0\\.1:${busy.addr.port}: address already in use$`,
        "m",
      ),
    );
  } finally {
    busy.close();
  }
});

Deno.test("run with a broken config exits 2 naming the path, before starting anything", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    "server:\n  listen: 127.0.0.1:0\nlog:\n  level: loud\n",
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml`, waitListening: false });
  const { code, stderr } = await agent.exit();
  assert.equal(code, 2);
  assert.equal(
    stderr.trim(),
    'astron-watch run: log.level: "loud" is not one of debug | info | warn | error',
  );
});

Deno.test("the running agent takes a workflow record with the write token and serves it back", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    listenAnyPort + "  write_token: ${TOKEN}\nprobes: []\n",
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml`, env: { TOKEN: "t0ken" } });
  try {
    const record = chatRun();
    const denied = await agent.fetch("/api/v1/traces", {
      method: "POST",
      body: JSON.stringify(record),
    });
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const posted = await agent.fetch("/api/v1/traces", {
      method: "POST",
      headers: { Authorization: "Bearer t0ken", "Content-Type": "application/json" },
      body: JSON.stringify(record),
    });
    assert.equal(posted.status, 202, await posted.clone().text());
    assert.equal((await posted.json()).stored, 1);
    const run = await (await agent.fetch(`/api/v1/traces/${record.sid}`)).json();
    assert.equal(run.record.sid, record.sid);
    assert.equal(run.record.question, record.question);
    assert.equal(run.record.trace.length, record.trace?.length);
    agent.kill("SIGTERM");
    assert.equal((await agent.exit()).code, 0);
    assert.ok(
      (await Deno.stat(`${dir.path}/data/astron-watch.db`)).isFile,
      "the store lives beside the config",
    );
  } finally {
    await agent.close();
  }
});

Deno.test("probe history outlives a restart: ?since= reads it from the store", async () => {
  await using dir = await tempDir();
  await using target = tcpServer("closing");
  const file = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    file,
    listenAnyPort +
      `probes:\n  - { name: db, type: tcp, target: "127.0.0.1:${target.port}", interval: 200ms, timeout: 100ms, jitter: 0s }\n`,
  );
  const first = await spawnAgent({ config: file });
  try {
    // Runs reach the store in batches: wait until four are there.
    for (let stored = 0; stored < 4;) {
      const page = await (await first.fetch("/api/v1/probes/db?since=1h&limit=1000")).json();
      stored = page.history.length;
      if (stored < 4) await new Promise((r) => setTimeout(r, 50));
    }
    first.kill("SIGTERM");
    assert.equal((await first.exit()).code, 0);
  } finally {
    await first.close();
  }
  const restartedAt = Date.now();
  const second = await spawnAgent({ config: file });
  try {
    const memory = await (await second.fetch("/api/v1/probes/db")).json();
    assert.ok(
      memory.history.every((h: { at: number }) => h.at >= restartedAt),
      "memory starts empty after a restart",
    );
    const stored = await (await second.fetch("/api/v1/probes/db?since=1h&limit=1000")).json();
    assert.ok(stored.history.length >= 4, `stored runs: ${stored.history.length}`);
    // Runs from before the restart: the store kept them (their outcome is not
    // the point; a 100 ms timeout can lapse on a loaded machine).
    const before = stored.history.filter((h: { at: number }) => h.at < restartedAt);
    assert.ok(before.length >= 4, `runs from before the restart: ${before.length}`);
    assert.ok(before.every((h: { ok: unknown }) => typeof h.ok === "boolean"));
    const bad = await second.fetch("/api/v1/probes/db?since=yesterday");
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /^since: "yesterday" is not a time/);
    second.kill("SIGTERM");
    assert.equal((await second.exit()).code, 0);
  } finally {
    await second.close();
  }
});

Deno.test("SIGHUP reopens the log file an external logrotate moved away", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/c.yaml`, listenAnyPort + "probes: []\n");
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    const live = `${dir.path}/logs/astron-watch.log`;
    await agent.waitForLine((l) => l.msg === "started");
    // Lines reach the file within one flush interval (1 s by default).
    for (
      let i = 0;
      i < 50 && !(await Deno.readTextFile(live).catch(() => "")).includes('"started"');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await Deno.rename(live, `${live}.moved`); // what logrotate does before its postrotate SIGHUP
    agent.kill("SIGHUP");
    await agent.waitForLine((l) => l.msg === "reloaded");
    agent.kill("SIGTERM");
    assert.equal((await agent.exit()).code, 0);
    assert.match(await Deno.readTextFile(`${live}.moved`), /"msg":"started"/);
    const fresh = await Deno.readTextFile(live);
    assert.match(fresh, /"msg":"reloaded"/);
    assert.match(fresh, /"msg":"log closed"/);
    assert.doesNotMatch(fresh, /"msg":"started"/);
  } finally {
    await agent.close();
  }
});

Deno.test("a reload a component refuses leaves the whole running config in force", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(file, listenAnyPort + "  write_token: old-token\nprobes: []\n");
  const agent = await spawnAgent({ config: file });
  try {
    // A valid file whose log.dir cannot be made (a regular file stands in the way) and a new token.
    await Deno.writeTextFile(`${dir.path}/blocker`, "");
    await Deno.writeTextFile(
      file,
      `log:\n  stderr: always\n  dir: ${dir.path}/blocker/logs\nserver:\n  listen: 127.0.0.1:0\n  write_token: new-token\nprobes: []\n`,
    );
    agent.kill("SIGHUP");
    const refused = await agent.waitForLine((l) =>
      l.msg === "reload refused: the running config is kept"
    );
    assert.match(String(refused.problems), /cannot create log\.dir/);
    const post = (token: string) =>
      agent.fetch("/api/v1/traces", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        body: "[]",
      });
    const withNew = await post("new-token");
    assert.equal(withNew.status, 401, "the new token was not taken");
    await withNew.body?.cancel();
    const withOld = await post("old-token");
    assert.notEqual(withOld.status, 401);
    await withOld.body?.cancel();
    agent.kill("SIGTERM");
    assert.equal((await agent.exit()).code, 0);
  } finally {
    await agent.close();
  }
});
