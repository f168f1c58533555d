import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { type ComposeLayout, detectLayout, parseDotEnv } from "../src/config/from_env.ts";
import { cli, ROOT, tempDir } from "./support/agent.ts";

const FIXTURES = ROOT + "tests/fixtures/";
/** The newer layout: only nginx and MinIO published. */
const NEW = FIXTURES + "platform_d2fbe22.env";
/** The older layout: every service published under EXPOSE_<SERVICE>_PORT. */
const OLD = FIXTURES + "platform_d0f978e.env";
/** A short .env with only the keys init reads (newer layout). */
const MINIMAL = FIXTURES + "platform.env";

const NETWORK_ONLY = /Only inside astron-agent-network/;

async function dotEnv(path: string): Promise<Record<string, string>> {
  const r = parseDotEnv(await Deno.readTextFile(path));
  assert.ok(r.ok, `${path} parses`);
  return r.ok ? r.vars : {};
}

/**
 * `init --from-env` into a file, then `check` on that file as written, as an operator runs
 * them. Returns the file and what init printed.
 */
async function initAndCheck(args: string[]): Promise<{ text: string; stdout: string }> {
  await using dir = await tempDir();
  const out = `${dir.path}/astron-watch.yaml`;
  const init = await cli(["init", "--from-env", ...args, "-o", out]);
  assert.equal(init.code, 0, init.stderr);
  const check = await cli(["check", "--config", out]);
  assert.equal(check.code, 0, `check refused the file init wrote:\n${check.stderr}`);
  assert.match(check.stdout, /: ok \(\d+ probes\)/);
  return { text: await Deno.readTextFile(out), stdout: init.stdout };
}

/** The probes of a generated file by name, with the secrets it references set. */
function probesOf(text: string, env: Record<string, string> = {}): Record<string, ProbeConfig> {
  const parsed = parseConfigText(text, env);
  assert.ok(parsed.ok, parsed.ok ? "" : JSON.stringify(parsed.problems));
  return parsed.ok ? Object.fromEntries(parsed.config.probes.map((p) => [p.name, p])) : {};
}

/** The comment lines directly above `- name: NAME`, joined into one line. */
function commentAbove(text: string, name: string): string {
  const lines = text.split("\n");
  const at = lines.indexOf(`  - name: ${name}`);
  assert.ok(at >= 0, `no probe named ${name}`);
  const comment: string[] = [];
  for (let i = at - 1; i >= 0 && lines[i].startsWith("  # "); i--) {
    comment.unshift(lines[i].slice(4));
  }
  return comment.join(" ");
}

/** The timeout line of probe `name`, as written. */
function timeoutLine(text: string, name: string): string {
  const from = text.indexOf(`  - name: ${name}\n`);
  const m = /\n {4}timeout: ([^\n]*)/.exec(text.slice(from));
  return m ? m[1] : "";
}

const ALL_PROBES = [
  "nginx",
  "console-frontend",
  "console-hub",
  "core-agent",
  "core-knowledge",
  "core-workflow",
  "core-tenant",
  "core-database",
  "core-rpa",
  "core-link",
  "core-aitools",
  "minio",
  "postgres",
  "mysql",
  "redis",
];

Deno.test("a platform .env parses with its own ${VAR:-default} references", () => {
  const r = parseDotEnv(
    "A=1\nB=${A:-9}-${UNSET:-x}\nC=\"quoted # not a comment\"\nD=plain # comment\nE='${A}'\n",
  );
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(r.vars, {
    A: "1",
    B: "1-x",
    C: "quoted # not a comment",
    D: "plain",
    E: "${A}",
  });
  const bad = parseDotEnv("OK=1\nthis is not an assignment\n");
  assert.deepEqual(bad, {
    ok: false,
    line: 2,
    message: 'expected KEY=value, got "this is not an assignment"',
  });
});

Deno.test("the layout is told by EXPOSE_<SERVICE>_PORT variables, and --layout wins", async (t) => {
  const cases: {
    name: string;
    vars: Record<string, string>;
    override?: ComposeLayout;
    layout: ComposeLayout;
    reason: RegExp;
  }[] = [
    {
      name: "the d2fbe22 .env publishes only nginx and MinIO: new",
      vars: await dotEnv(NEW),
      layout: "new",
      reason: /only EXPOSE_NGINX_PORT and EXPOSE_MINIO_PORT/,
    },
    {
      name: "the minimal .env: new",
      vars: await dotEnv(MINIMAL),
      layout: "new",
      reason: /only EXPOSE_NGINX_PORT and EXPOSE_MINIO_PORT/,
    },
    {
      name: "the d0f978e .env publishes core services and middleware: old",
      vars: await dotEnv(OLD),
      layout: "old",
      reason: /EXPOSE_CORE_AGENT_PORT, .* and 11 more/,
    },
    {
      name: "one published middleware port is enough: old",
      vars: { EXPOSE_NGINX_PORT: "80", EXPOSE_MYSQL_PORT: "13306" },
      layout: "old",
      reason: /publishes EXPOSE_MYSQL_PORT$/,
    },
    {
      name: "an empty EXPOSE_ variable publishes nothing: new",
      vars: { EXPOSE_CORE_WORKFLOW_PORT: "", EXPOSE_MINIO_CONSOLE_PORT: "18999" },
      layout: "new",
      reason: /publishes no port/,
    },
    {
      name: "--layout old over a d2fbe22 .env",
      vars: await dotEnv(NEW),
      override: "old",
      layout: "old",
      reason: /^chosen with --layout old$/,
    },
    {
      name: "--layout new over a d0f978e .env",
      vars: await dotEnv(OLD),
      override: "new",
      layout: "new",
      reason: /^chosen with --layout new$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const d = detectLayout(c.vars, c.override);
      assert.equal(d.layout, c.layout);
      assert.match(d.reason, c.reason);
    });
  }
});

Deno.test("init --from-env on the d2fbe22 layout keeps compose names and marks each probe only the network reaches", async () => {
  const { text, stdout } = await initAndCheck([NEW]);
  assert.match(stdout, /^compose layout new \(d2fbe22\), detected: /);
  assert.match(stdout, /13 probes reach only inside astron-agent-network \(console-frontend, /);
  assert.doesNotMatch(text, /spark123|root123|minioadmin123|NjhmY2Nm|\b123\b/, "no secret copied");
  assert.match(text, /^# Compose layout: new \(d2fbe22\)/m);
  assert.match(text, /^# Addresses: compose service names, for an agent attached to/m);

  const byName = probesOf(text, { POSTGRES_PASSWORD: "spark123", REDIS_PASSWORD: "123" });
  assert.deepEqual(Object.keys(byName), ALL_PROBES, "Kafka is left out while KAFKA_ENABLE=0");
  assert.equal(byName.nginx.url, "http://nginx/nginx-health");
  assert.deepEqual(byName.nginx.expect, { status: [200], body_contains: "nginx is healthy" });
  assert.equal(byName.minio.url, "http://minio:9000/minio/health/live");
  assert.equal(byName["core-workflow"].url, "http://core-workflow:7880/health/ready");
  assert.equal(byName["core-agent"].url, "http://core-agent:17870/health/ready");
  assert.equal(byName["core-knowledge"].url, "http://core-knowledge:20010/health/ready");
  assert.deepEqual(byName["console-hub"].target, { host: "console-hub", port: 8080 });
  assert.deepEqual(byName["console-frontend"].target, { host: "console-frontend", port: 1881 });
  assert.deepEqual(byName["core-link"].target, { host: "core-link", port: 18888 });
  assert.equal(byName.postgres.url, "postgres://spark:spark123@postgres:5432/sparkdb_manager");
  assert.equal(byName.redis.password, "123");
  assert.deepEqual(byName.redis.target, { host: "redis", port: 6379 });
  assert.deepEqual(byName.mysql.target, { host: "mysql", port: 3306 });

  for (const name of ["core-agent", "core-knowledge", "core-workflow"]) {
    assert.equal(byName[name].timeout, 5_000, name);
    assert.equal(timeoutLine(text, name), "5s   # the compose healthcheck's own");
  }
  for (const p of Object.values(byName)) {
    assert.equal(p.interval, 30_000, p.name);
    if (!p.url?.endsWith("/health/ready")) assert.equal(p.timeout, 10_000, p.name);
  }

  for (const name of ["nginx", "minio"]) {
    assert.doesNotMatch(commentAbove(text, name), NETWORK_ONLY, `${name} is published`);
  }
  for (const name of ALL_PROBES.filter((n) => n !== "nginx" && n !== "minio")) {
    const comment = commentAbove(text, name);
    assert.match(comment, NETWORK_ONLY, name);
    assert.match(
      comment,
      /attach the agent to that network, or publish \d+ and re-run init with --host H/,
    );
  }
  assert.match(
    commentAbove(text, "core-workflow"),
    /"core-workflow" \(WORKFLOW_URL\) is a compose service name and the new layout publishes no port for it\. .* publish 7880 /,
  );
  assert.match(commentAbove(text, "postgres"), /"postgres" \(POSTGRES_HOST\) .* publish 5432 /);
  assert.match(commentAbove(text, "redis"), /"redis" \(REDIS_HOST\)/);
  assert.match(
    commentAbove(text, "console-hub"),
    /No healthcheck in the compose file: a TCP connect/,
  );
});

Deno.test("init --from-env --host on the d2fbe22 layout probes the published ports and marks the unpublished ones", async () => {
  const { text, stdout } = await initAndCheck([NEW, "--host", "127.0.0.1"]);
  assert.match(stdout, /13 probes reach only inside astron-agent-network/);
  assert.match(text, /^# Addresses: 127\.0\.0\.1 and the ports the layout publishes there/m);
  const byName = probesOf(text);
  assert.equal(byName.nginx.url, "http://127.0.0.1/nginx-health", "EXPOSE_NGINX_PORT=80");
  assert.equal(byName.minio.url, "http://127.0.0.1:18998/minio/health/live", "EXPOSE_MINIO_PORT");
  assert.equal(byName["core-workflow"].url, "http://127.0.0.1:7880/health/ready");
  assert.deepEqual(byName.redis.target, { host: "127.0.0.1", port: 6379 });
  assert.doesNotMatch(text, /"[^"]*core-workflow:7880|"redis:6379"/);
  assert.doesNotMatch(commentAbove(text, "nginx"), NETWORK_ONLY);
  assert.match(
    commentAbove(text, "core-workflow"),
    /Only inside astron-agent-network: .* 127\.0\.0\.1:7880 answers once you publish it \(ports: \["7880:7880"\]\), or drop --host and attach the agent to that network\./,
  );
  assert.match(commentAbove(text, "redis"), /127\.0\.0\.1:6379 answers once you publish it/);
});

Deno.test("init --from-env on the d0f978e layout: every service published, on its EXPOSE_ port with --host", async () => {
  const secrets = /pg-Old-Secret|my-Old-Secret|rd-Old-Secret|mn-Old-Secret/;
  const names = [...ALL_PROBES, "kafka"];

  const network = await initAndCheck([OLD]);
  assert.match(network.stdout, /^compose layout old \(d0f978e\), detected: the \.env publishes /);
  assert.doesNotMatch(network.stdout, /reach only inside/);
  assert.doesNotMatch(network.text, NETWORK_ONLY, "nothing is only inside the network");
  assert.doesNotMatch(network.text, secrets);
  const inside = probesOf(network.text);
  assert.deepEqual(Object.keys(inside), names, "Kafka is probed while KAFKA_ENABLE=1");
  assert.equal(inside.nginx.url, "http://nginx/nginx-health", "port 80 inside the network");
  assert.equal(inside["core-workflow"].url, "http://core-workflow:7880/health/ready");
  assert.deepEqual(inside.kafka.target, { host: "kafka", port: 29092 });
  assert.deepEqual(inside.mysql.target, { host: "mysql", port: 3306 });

  const host = await initAndCheck([OLD, "--host", "127.0.0.1"]);
  assert.doesNotMatch(host.text, NETWORK_ONLY);
  assert.doesNotMatch(host.text, secrets);
  const byName = probesOf(host.text, { POSTGRES_PASSWORD: "pw" });
  assert.deepEqual(Object.keys(byName), names);
  assert.equal(byName.nginx.url, "http://127.0.0.1:10080/nginx-health");
  assert.equal(byName.minio.url, "http://127.0.0.1:19000/minio/health/live");
  assert.equal(byName["core-workflow"].url, "http://127.0.0.1:17880/health/ready");
  assert.equal(byName["core-agent"].url, "http://127.0.0.1:17870/health/ready");
  assert.deepEqual(byName["console-hub"].target, { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(byName["console-frontend"].target, { host: "127.0.0.1", port: 1881 });
  assert.equal(byName.postgres.url, "postgres://spark:pw@127.0.0.1:15432/sparkdb_manager");
  assert.deepEqual(byName.mysql.target, { host: "127.0.0.1", port: 13306 });
  assert.deepEqual(byName.redis.target, { host: "127.0.0.1", port: 16379 });
  assert.deepEqual(byName.kafka.target, { host: "127.0.0.1", port: 9092 });
  for (const p of Object.values(byName)) {
    assert.equal(p.interval, 20_000, p.name);
    assert.equal(p.timeout, p.url?.endsWith("/health/ready") ? 5_000 : 8_000, p.name);
  }
});

Deno.test("init --from-env --layout overrides what the .env suggests", async (t) => {
  await t.step(
    "a d2fbe22 .env read as old: every service on its own port, none marked",
    async () => {
      const { text, stdout } = await initAndCheck([NEW, "--layout", "old", "--host", "127.0.0.1"]);
      assert.match(stdout, /^compose layout old \(d0f978e\), chosen with --layout old\n/);
      assert.match(text, /^# Written by "astron-watch init --from-env .* --layout old"\./m);
      assert.doesNotMatch(text, NETWORK_ONLY);
      const byName = probesOf(text);
      assert.equal(byName["core-workflow"].url, "http://127.0.0.1:7880/health/ready");
      assert.deepEqual(byName.mysql.target, { host: "127.0.0.1", port: 3306 });
    },
  );
  await t.step("a d0f978e .env read as new: only nginx and MinIO published", async () => {
    const { text } = await initAndCheck([OLD, "--layout", "new", "--host", "127.0.0.1"]);
    const byName = probesOf(text);
    assert.equal(byName.nginx.url, "http://127.0.0.1:10080/nginx-health");
    assert.equal(byName["core-workflow"].url, "http://127.0.0.1:7880/health/ready");
    assert.doesNotMatch(commentAbove(text, "nginx"), NETWORK_ONLY);
    assert.match(commentAbove(text, "core-workflow"), NETWORK_ONLY);
    assert.match(commentAbove(text, "kafka"), /"kafka" \(KAFKA_SERVERS\)/);
  });
});

Deno.test("init --from-env keeps hosts that are not compose service names, and fits timeouts in the interval", async () => {
  await using dir = await tempDir();
  const env = `${dir.path}/.env`;
  await Deno.writeTextFile(
    env,
    [
      "POSTGRES_HOST=10.1.2.3",
      "POSTGRES_PORT=6432",
      "REDIS_ADDR=cache.internal:6380",
      "CORE_WORKFLOW_PORT=7880",
      "WORKFLOW_URL=http://wf.internal:${WF_PORT:-9000}",
      "HEALTH_CHECK_INTERVAL=4s",
      "HEALTH_CHECK_TIMEOUT=10s",
    ].join("\n") + "\n",
  );
  for (const args of [[env], [env, "--host", "127.0.0.1"]]) {
    const { text } = await initAndCheck(args);
    assert.doesNotMatch(text, NETWORK_ONLY, args.join(" "));
    const byName = probesOf(text);
    assert.deepEqual(Object.keys(byName), ["core-workflow", "postgres", "redis"]);
    assert.equal(byName["core-workflow"].url, "http://wf.internal:9000/health/ready");
    assert.equal(byName.postgres.url, "postgres://spark@10.1.2.3:6432/sparkdb_manager");
    assert.deepEqual(byName.redis.target, { host: "cache.internal", port: 6380 });
    for (const p of Object.values(byName)) assert.equal(p.timeout, 4_000, p.name);
    assert.equal(timeoutLine(text, "core-workflow"), "4s   # no longer than the interval");
    assert.equal(timeoutLine(text, "postgres"), "4s   # no longer than the interval");
  }
});

Deno.test("init refuses a --layout it does not know, and --layout or --host without --from-env", async () => {
  const cases: [string[], RegExp][] = [
    [["--from-env", NEW, "--layout", "newer"], /--layout: expected new or old, got "newer"/],
    [["--from-env", NEW, "--layout", "constructor"], /--layout: expected new or old/],
    [["--layout", "old"], /--layout goes with --from-env/],
    [["--host", "127.0.0.1"], /--host goes with --from-env/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(["init", ...args, "-o", "-"]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
});

Deno.test("init --from-env names the line of a broken .env, or the missing file", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/.env`, "A=1\nB=${oops\n");
  const bad = await cli(["init", "--from-env", `${dir.path}/.env`, "-o", "-"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^astron-watch init: .*\/\.env:2: "\$\{oops" is not a valid variable reference/,
  );
  const missing = await cli(["init", "--from-env", `${dir.path}/none.env`, "-o", "-"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^astron-watch init: cannot read .*none\.env: /);
});
