import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import { parseDotEnv } from "../src/config/from_env.ts";
import { cli, ROOT, tempDir } from "./support/agent.ts";

const FIXTURE = ROOT + "tests/fixtures/platform.env";

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

Deno.test("init --from-env writes one probe per service the .env names, and check accepts it as written", async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/astron-watch.yaml`;
  const r = await cli(["init", "--from-env", FIXTURE, "-o", out]);
  assert.equal(r.code, 0, r.stderr);
  const check = await cli(["check", "--config", out]);
  assert.equal(check.code, 0, check.stderr);

  const text = await Deno.readTextFile(out);
  assert.doesNotMatch(text, /spark123|root123|\b123\b/, "no secret is copied into the config");
  const parsed = parseConfigText(text, { POSTGRES_PASSWORD: "spark123", REDIS_PASSWORD: "123" });
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const byName = Object.fromEntries(parsed.config.probes.map((p) => [p.name, p]));
  assert.deepEqual(Object.keys(byName), [
    "nginx",
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
  ], "Kafka is left out while KAFKA_ENABLE=0");
  assert.equal(byName.nginx.url, "http://127.0.0.1/nginx-health", "port 80, EXPOSE_NGINX_PORT");
  assert.equal(byName.nginx.expect.body_contains, "healthy");
  assert.equal(byName["core-workflow"].url, "http://core-workflow:7880/health/ready");
  assert.equal(byName["core-workflow"].kind, "server");
  assert.deepEqual(byName["core-link"].target, { host: "core-link", port: 18888 });
  assert.equal(byName.minio.url, "http://127.0.0.1:18998/minio/health/live");
  assert.equal(byName.postgres.url, "postgres://spark:spark123@postgres:5432/sparkdb_manager");
  assert.equal(byName.postgres.kind, "rely");
  assert.equal(byName.redis.password, "123");
  assert.deepEqual(byName.mysql.target, { host: "mysql", port: 3306 });
  for (const p of parsed.config.probes) {
    assert.equal(p.interval, 30_000, p.name);
    assert.equal(p.timeout, 10_000, p.name);
  }
});

Deno.test("init --from-env --host maps compose service names to a host that publishes the ports", async () => {
  const r = await cli(["init", "--from-env", FIXTURE, "--host", "127.0.0.1", "-o", "-"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /url: http:\/\/127\.0\.0\.1:7880\/health\/ready/);
  assert.match(r.stdout, /target: "127\.0\.0\.1:6379"/);
  assert.doesNotMatch(r.stdout, /core-workflow:7880|"redis:6379"/);
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
