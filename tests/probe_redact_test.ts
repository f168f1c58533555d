import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";
import { runProbe } from "../src/probe/scheduler.ts";
import { cli, spawnAgent, tempDir } from "./support/agent.ts";
import { echoingRedis, tcpServer } from "./support/servers.ts";

const PASSWORD = "s3cr3t-Pa55word";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "p", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

Deno.test("a redis that quotes the password back does not get it into /status, /api/v1/probes or the log", async () => {
  await using redis = echoingRedis();
  await using dir = await tempDir();
  const config = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    config,
    `server:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
log:
  dir: ./logs
  stderr: always
store:
  url: sqlite:./data/aw.db
  blob_dir: ./data/blobs
probes:
  - name: cache
    type: redis
    target: 127.0.0.1:${redis.port}
    password: ${PASSWORD}
    interval: 200ms
    timeout: 100ms
    retries: 1
    jitter: 0s
`,
  );
  const agent = await spawnAgent({ config });
  try {
    const down = await agent.waitForLine((l) => l.msg === "probe down");
    assert.equal(
      down.reason,
      "AUTH failed: ERR unknown command `AUTH`, with args beginning with: `***`,",
    );
    const status = await (await agent.fetch("/status")).text();
    assert.match(status, /cache +down .*AUTH failed: ERR unknown command/);
    assert.ok(!status.includes(PASSWORD), status);
    const api = await (await agent.fetch("/api/v1/probes")).text();
    assert.match(api, /args beginning with: `\*\*\*`/);
    assert.ok(!api.includes(PASSWORD), api);
  } finally {
    agent.kill("SIGTERM");
  }
  const { code, stderr } = await agent.exit();
  assert.equal(code, 0, stderr);
  assert.ok(!stderr.includes(PASSWORD), stderr);
  const file = await Deno.readTextFile(`${dir.path}/logs/astron-watch.log`);
  assert.match(file, /"msg":"probe down"/);
  assert.ok(!file.includes(PASSWORD), file);
});

Deno.test("the probe command shows neither the redis password nor a URL's password", async () => {
  await using redis = echoingRedis();
  const r = await cli([
    "probe",
    "--type",
    "redis",
    `127.0.0.1:${redis.port}`,
    "--password",
    PASSWORD,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    "astron-watch probe: down: AUTH failed: ERR unknown command `AUTH`, with args beginning with: `***`,\n",
  );
  assert.ok(!r.stdout.includes(PASSWORD), r.stdout);

  await using closing = tcpServer("closing");
  const url = `http://watch:${PASSWORD}@127.0.0.1:${closing.port}/health`;
  for (const args of [[url], [url, "--json"]]) {
    const h = await cli(["probe", ...args]);
    assert.equal(h.code, 1, h.stderr);
    assert.ok(h.stdout.includes(`http://watch:***@127.0.0.1:${closing.port}/health`), h.stdout);
    assert.ok(!(h.stdout + h.stderr).includes(PASSWORD), h.stdout + h.stderr);
  }
});

Deno.test("every configured secret is redacted from a failure reason, whatever the target echoes", async (t) => {
  // A server that answers with the request line and headers it got: its "status line" is our secret.
  const echoing = (pick: (head: string) => string) =>
    tcpServer(async (conn) => {
      const buf = new Uint8Array(8192);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(pick(head) + "\r\n\r\n"));
    });
  const header = (name: string) => (head: string) =>
    new RegExp(`^${name}: (.*)$`, "im").exec(head)?.[1] ?? "none";
  const cases: {
    name: string;
    pick: (head: string) => string;
    probe: (port: number) => Record<string, unknown>;
    secret: string;
  }[] = [
    {
      name: "an Authorization header's token",
      pick: header("authorization"),
      probe: (port) => ({
        url: `http://127.0.0.1:${port}/`,
        headers: { Authorization: "Bearer tok-0123456789" },
      }),
      secret: "tok-0123456789",
    },
    {
      name: "an API key header",
      pick: header("x-api-key"),
      probe: (port) => ({
        url: `http://127.0.0.1:${port}/`,
        headers: { "X-Api-Key": "key-abcdef" },
      }),
      secret: "key-abcdef",
    },
    {
      name: "a token in the query string",
      pick: (head) => head.split("\r\n")[0],
      probe: (port) => ({ url: `http://127.0.0.1:${port}/health?access_token=qt-987654` }),
      secret: "qt-987654",
    },
    {
      name: "the password of a Basic URL",
      pick: (head) => atob(header("authorization")(head).replace(/^Basic /, "")),
      probe: (port) => ({ url: `http://watch:url-pw-42@127.0.0.1:${port}/` }),
      secret: "url-pw-42",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using server = echoing(c.pick);
      const config = probeConfig({ type: "http", ...c.probe(server.port) });
      const result = await runProbe(PROBES.http, config);
      assert.equal(result.ok, false);
      const reason = result.reason ?? "";
      assert.match(reason, /\*\*\*/, reason);
      assert.ok(!reason.includes(c.secret), reason);
    });
  }
});
