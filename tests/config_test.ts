import assert from "node:assert/strict";
import { expandVars, loadConfig, parseConfigText } from "../src/config/load.ts";
import { parseDuration, parseSize } from "../src/config/units.ts";
import { formatProblem } from "../src/config/reader.ts";
import { starterConfig } from "../src/config/starter.ts";
import { sameEntries } from "../src/config/followed.ts";
import { otlpTarget } from "../src/metrics/telemetry.ts";
import { cli, spawnAgent, tempDir } from "./support/agent.ts";

const probe = (extra: string) =>
  `probes:\n  - name: web\n    type: http\n    url: http://127.0.0.1:8080/\n${extra}`;

/** Each config is wrong in exactly one way; the one line `check` prints must name the path. */
const BAD_CONFIGS: { name: string; yaml: string; line: string; env?: Record<string, string> }[] = [
  {
    name: "a bad duration",
    yaml: probe("    interval: fast\n"),
    line: 'probes[0].interval: "fast" is not a duration (like 500ms, 15s, 1h, 7d)',
  },
  {
    name: "a bad size",
    yaml: "log:\n  max_size: 10XB\n",
    line: 'log.max_size: "10XB" is not a size (like 10MB, 512KiB, 2GB)',
  },
  {
    name: "a bad URL",
    yaml: "probes:\n  - name: web\n    type: http\n    url: not a url\n",
    line: 'probes[0].url: "not a url" is not a URL',
  },
  {
    name: "a URL with the wrong scheme",
    yaml: "probes:\n  - name: pg\n    type: postgres\n    url: http://127.0.0.1:5432/\n",
    line:
      'probes[0].url: "http://127.0.0.1:5432/" has scheme http, expected postgres or postgresql',
  },
  {
    name: "a port out of range",
    yaml: "server:\n  listen: 127.0.0.1:99999\n",
    line: 'server.listen: "127.0.0.1:99999" is not host:port with a port from 0 to 65535',
  },
  {
    name: "a bad enum value",
    yaml: "log:\n  level: loud\n",
    line: 'log.level: "loud" is not one of debug | info | warn | error',
  },
  {
    name: "an unknown probe type",
    yaml: "probes:\n  - name: f\n    type: ftp\n    url: http://x/\n",
    line: 'probes[0].type: "ftp" is not one of http | tcp | postgres | redis | sse',
  },
  {
    name: "a duplicate probe name",
    yaml: probe("") + "  - name: web\n    type: tcp\n    target: 127.0.0.1:22\n",
    line: 'probes[1].name: "web" is already used by probes[0]',
  },
  {
    name: "an unknown key, with a suggestion",
    yaml: "log:\n  levle: debug\n",
    line: 'log.levle: unknown key (did you mean "level"?)',
  },
  {
    name: "an unknown top-level key",
    yaml: "nonsense: {}\n",
    line:
      "nonsense: unknown key (known: server, log, store, otlp, otlp_receiver, probes, alerts, access_logs, service_logs, housekeeping, backups)",
  },
  {
    name: "broken YAML",
    yaml: "log:\n  level: [info\n",
    line: "broken YAML",
  },
  {
    name: "a duplicate YAML key",
    yaml: "log:\n  level: info\n  level: debug\n",
    line: "broken YAML: Map keys must be unique",
  },
  {
    name: "a tcp probe without a target",
    yaml: "probes:\n  - name: db\n    type: tcp\n",
    line: "probes[0].target: is required (host:port)",
  },
  {
    name: "a key the probe type does not use",
    yaml: "probes:\n  - name: db\n    type: tcp\n    target: 127.0.0.1:3306\n    url: http://x/\n",
    line: "probes[0].url: is not used by tcp probes (use target)",
  },
  {
    name: "follow_redirects on a probe that is not http",
    yaml:
      "probes:\n  - name: db\n    type: tcp\n    target: 127.0.0.1:3306\n    follow_redirects: true\n",
    line: "probes[0].follow_redirects: is only used by http probes",
  },
  {
    name: "a follow_redirects that is not a boolean",
    yaml: probe("    follow_redirects: always\n"),
    line: 'probes[0].follow_redirects: "always" is not a boolean (true | false)',
  },
  {
    name: "retries of zero",
    yaml: probe("    retries: 0\n"),
    line: "probes[0].retries: 0 is out of range (1 to 1000)",
  },
  {
    name: "an impossible status code",
    yaml: probe("    expect:\n      status: [200, 999]\n"),
    line: "probes[0].expect.status[1]: 999 is out of range (100 to 599)",
  },
  {
    name: "a timeout longer than the interval",
    yaml: probe("    interval: 5s\n    timeout: 10s\n"),
    line: 'probes[0].timeout: "10s" is longer than the interval',
  },
  {
    name: "an invalid regular expression",
    yaml: probe("    expect:\n      body_regex: '(unclosed'\n"),
    line: 'probes[0].expect.body_regex: "(unclosed" is not a valid regular expression',
  },
  {
    name: "a malformed variable reference",
    yaml: "server:\n  write_token: ${TOKEN\n",
    line: 'server.write_token: "${TOKEN" is not a valid variable reference',
  },
  {
    name: "probes that are not a list",
    yaml: "probes: web\n",
    line: 'probes: expected a list, got "web"',
  },
  {
    name: "a bad boolean",
    yaml: "log:\n  compress: maybe\n",
    line: 'log.compress: "maybe" is not a boolean (true | false)',
  },
  {
    name: "a bad store URL",
    yaml: "store:\n  url: mysql://127.0.0.1/db\n",
    line:
      'store.url: "mysql://127.0.0.1/db" has scheme mysql, expected postgres or postgresql or sqlite',
  },
  {
    name: "a bad OTLP_ENDPOINT in the environment",
    yaml: "",
    env: { OTLP_ENDPOINT: "collector" },
    line: 'OTLP_ENDPOINT: "collector" is not host:port with a port from 0 to 65535',
  },
  {
    name: "an IPv6 listen address YAML read as a list",
    yaml: "server:\n  listen: [::1]\n",
    line: 'server.listen: ["::1"] is a YAML list: quote an IPv6 address, like "[::1]:9477"',
  },
  {
    name: "an unquoted IPv6 host:port",
    yaml: "server:\n  listen: [::1]:9477\n",
    line:
      'broken YAML: Unexpected scalar at node end (an IPv6 host:port must be quoted: "[::1]:9477")',
  },
  {
    name: "a YAML alias bomb",
    yaml: "a: &a [x, x, x, x, x, x, x, x, x]\n" +
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    line: "broken YAML: too many YAML aliases (more than 100 expansions; an alias bomb?)",
  },
  {
    name: "a bad URL, without showing its password",
    yaml:
      "probes:\n  - name: pg\n    type: postgres\n    url: postgres://spark:${PG_PASSWORD}@/db\n",
    env: { PG_PASSWORD: "S3cr3t" },
    line: 'probes[0].url: "postgres://spark:***@/db" is not a URL',
  },
  {
    name: "a section that is not a mapping",
    yaml: "server: 9477\n",
    line: "server: expected a mapping of listen, write_token",
  },
];

Deno.test("every single mistake is one problem naming its path", async (t) => {
  for (const c of BAD_CONFIGS) {
    await t.step(`check rejects ${c.name}`, () => {
      const r = parseConfigText(c.yaml, { ...Deno.env.toObject(), ...c.env }, "bad.yaml");
      assert.ok(!r.ok, `accepted: ${c.yaml}`);
      if (r.ok) return;
      const lines = r.problems.map(formatProblem);
      assert.equal(lines.length, 1, `expected one problem, got:\n${lines.join("\n")}`);
      assert.ok(lines[0].includes(c.line), `"${lines[0]}" should include "${c.line}"`);
    });
  }
});

Deno.test("check prints a problem as one line on stderr and exits 2, without a stack trace", async (t) => {
  await using dir = await tempDir();
  // Two of the table's cases through the command itself (the rest are the same code in-process).
  for (const c of [BAD_CONFIGS[0], BAD_CONFIGS.at(-1)!]) {
    await t.step(c.name, async () => {
      const file = `${dir.path}/bad.yaml`;
      await Deno.writeTextFile(file, c.yaml);
      const result = await cli(["check", "--config", file], { env: c.env });
      assert.equal(result.code, 2, result.stderr);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
      assert.ok(lines[0].includes(c.line), `"${lines[0]}" should include "${c.line}"`);
      assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+\)?$/m, "no stack trace");
      assert.equal(result.stdout, "");
    });
  }
});

Deno.test("check accepts durations longer than a timer can wait: retention 90d, max_age 400d and 1y, a 30d interval", async (t) => {
  await using dir = await tempDir();
  const cases = [
    { retention: "90d", max_age: "400d", retentionMs: 90 * 86_400_000, maxAgeMs: 400 * 86_400_000 },
    { retention: "1y", max_age: "1y", retentionMs: 365 * 86_400_000, maxAgeMs: 365 * 86_400_000 },
  ];
  for (const [i, c] of cases.entries()) {
    await t.step(`store.retention: ${c.retention}, log.max_age: ${c.max_age}`, async () => {
      const yaml = `server:\n  shutdown_timeout: 30d\n` +
        `store:\n  retention: ${c.retention}\nlog:\n  max_age: ${c.max_age}\n` +
        probe("    interval: 30d\n    timeout: 25d\n");
      const file = `${dir.path}/long-${i}.yaml`;
      await Deno.writeTextFile(file, yaml);
      const result = await cli(["check", "--config", file]);
      assert.equal(result.stderr, "");
      assert.equal(result.code, 0);
      assert.equal(result.stdout, `${file}: ok (1 probe)\n`);
      const r = await loadConfig({ path: file, env: {} });
      assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
      if (!r.ok) return;
      assert.equal(r.config.store.retention, c.retentionMs);
      assert.equal(r.config.log.max_age, c.maxAgeMs);
      assert.equal(r.config.probes[0].interval, 30 * 86_400_000);
      assert.equal(r.config.probes[0].timeout, 25 * 86_400_000);
      // Only a timer waits for the drain deadline: past what one can wait, it is clamped, not refused.
      assert.equal(r.config.server.shutdown_timeout, 2 ** 31 - 1);
    });
  }
});

Deno.test("a YAML alias bomb is a config error naming the file: exit 2, one line", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/bomb.yaml`;
  const rows = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
  for (const [i, name] of ["b", "c", "d", "e", "f", "g", "h", "i"].entries()) {
    const prev = "abcdefgh"[i];
    rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
  }
  await Deno.writeTextFile(file, rows.join("\n") + "\n");
  const result = await cli(["check", "--config", file]);
  assert.equal(result.code, 2, result.stderr);
  assert.equal(
    result.stderr,
    `${file}: broken YAML: too many YAML aliases (more than 100 expansions; an alias bomb?)\n`,
  );
  const run = await cli(["run", "--config", file]);
  assert.equal(run.code, 2, run.stderr);
  assert.ok(run.stderr.includes(`${file}: broken YAML: too many YAML aliases`), run.stderr);
});

Deno.test("check and start-up warn, in one line naming the field and the variable, when a token's \${VAR} is unset", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/tokens.yaml`;
  await Deno.writeTextFile(
    file,
    "server:\n  listen: 127.0.0.1:0\n  write_token: ${AW_TEST_UNSET_WRITE_TOKEN}\n" +
      "  read_token: Bearer-${AW_TEST_EMPTY_READ_TOKEN}\nlog:\n  dir: ./logs\n  stderr: always\nprobes: []\n",
  );
  const writeLine = "astron-watch: warning: server.write_token: " +
    "${AW_TEST_UNSET_WRITE_TOKEN} is not set: writes are refused (every POST gets 403)";
  const checked = await cli(["check", "--config", file], {
    env: { AW_TEST_EMPTY_READ_TOKEN: "" },
  });
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(checked.stderr, writeLine + "\n");
  assert.equal(checked.stdout, `${file}: ok (0 probes)\n`);

  const both = parseConfigText(
    "server:\n  write_token: ${W}\n  read_token: ${R}${R2:-}\n",
    { R: "" },
  );
  assert.ok(both.ok);
  if (!both.ok) return;
  assert.deepEqual(both.warnings.map(formatProblem), [
    "server.write_token: ${W} is not set: writes are refused (every POST gets 403)",
    "server.read_token: ${R} is empty: reads are open on loopback only",
  ]);
  const set = parseConfigText("server:\n  write_token: ${W}\n  read_token: ''\n", { W: "t" });
  assert.ok(set.ok);
  if (!set.ok) return;
  assert.deepEqual(set.warnings, []);

  const agent = await spawnAgent({ config: file });
  try {
    assert.ok(agent.lines.some((l) => l.raw === writeLine), agent.text());
  } finally {
    agent.kill("SIGTERM");
  }
  const { code } = await agent.exit();
  assert.equal(code, 0);
});

Deno.test("check reports broken YAML with the file, line and column", () => {
  const r = parseConfigText("log:\n  level: [info\n", {}, "a.yaml");
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(formatProblem(r.problems[0]), /^a\.yaml:\d+:\d+: broken YAML: /);
});

Deno.test("check lists every problem of a config wrong in many ways", () => {
  const r = parseConfigText("log:\n  level: loud\n  keep: -1\nserver:\n  listen: nowhere\n", {});
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems.map((p) => p.path), ["server.listen", "log.level", "log.keep"]);
});

Deno.test("check accepts a missing --config file as an error naming the file", async () => {
  const result = await cli(["check", "--config", "/nonexistent/astron.yaml"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim(), "/nonexistent/astron.yaml: no such file");
});

Deno.test("check passes the built-in defaults and the starter config", async () => {
  await using dir = await tempDir();
  const none = await cli(["check"], { cwd: dir.path });
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, "built-in defaults: ok (1 probe)\n");
  await Deno.writeTextFile(`${dir.path}/astron-watch.yaml`, starterConfig());
  const starter = await cli(["check"], { cwd: dir.path });
  assert.equal(starter.code, 0, starter.stderr);
  assert.equal(starter.stdout, "./astron-watch.yaml: ok (1 probe)\n");
});

Deno.test("defaults match the contract: store, logs, API and a probe of the API itself", () => {
  const r = parseConfigText("", {});
  assert.ok(r.ok);
  if (!r.ok) return;
  const c = r.config;
  assert.equal(c.store.url, "sqlite:./data/astron-watch.db");
  assert.equal(c.log.dir, "./logs");
  assert.deepEqual(c.server.listen, { host: "127.0.0.1", port: 9477 });
  assert.equal(c.probes.length, 1);
  assert.equal(c.probes[0].url, "http://127.0.0.1:9477/healthz");
  assert.equal(c.log.max_size, 10_000_000);
  assert.equal(c.store.inline_limit, 5120);
});

Deno.test("variables expand in values, with defaults for unset or empty ones", () => {
  const env = { HOST: "10.0.0.1", EMPTY: "", PG_PASSWORD: "s3cret" };
  assert.deepEqual(expandVars("${HOST}:${PORT:-80}", env), { value: "10.0.0.1:80" });
  assert.deepEqual(expandVars("${EMPTY:-x}|${EMPTY-y}|${UNSET-z}", env), { value: "x||z" });
  assert.deepEqual(expandVars("cost $$5 ${NOPE}", env), { value: "cost $5 " });
  const yaml = `probes:
  - name: pg
    type: postgres
    kind: rely
    url: postgres://spark:\${PG_PASSWORD}@127.0.0.1:5432/sparkdb_manager
    interval: \${PG_INTERVAL:-15s}
`;
  const r = parseConfigText(yaml, env);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  if (!r.ok) return;
  assert.equal(r.config.probes[0].url, "postgres://spark:s3cret@127.0.0.1:5432/sparkdb_manager");
  assert.equal(r.config.probes[0].interval, 15_000);
  assert.equal(r.config.probes[0].kind, "rely");
});

Deno.test("the platform's OTLP_* variables win over the otlp section", () => {
  const yaml = "otlp:\n  enable: false\n  endpoint: 127.0.0.1:4317\n  service_name: mine\n";
  const on = parseConfigText(yaml, {
    OTLP_ENABLE: "1",
    OTLP_ENDPOINT: "collector.local:4317",
    OTLP_SERVICE_NAME: "watch-hf",
  });
  assert.ok(on.ok);
  if (!on.ok) return;
  const { enable, endpoint, service_name, protocol } = on.config.otlp;
  assert.deepEqual({ enable, endpoint, service_name, protocol }, {
    enable: true,
    endpoint: "collector.local:4317",
    service_name: "watch-hf",
    protocol: "grpc",
  });
  const off = parseConfigText("otlp:\n  enable: true\n", { OTLP_ENABLE: "0", SERVICE_NAME: "svc" });
  assert.ok(off.ok);
  if (!off.ok) return;
  assert.equal(off.config.otlp.enable, false);
  assert.equal(off.config.otlp.service_name, "svc");
});

Deno.test("the platform's OTLP_TRACE_* and OTLP_METRIC_* settings apply, batch = queue = 2048 accepted", () => {
  const r = parseConfigText("", {
    OTLP_TRACE_TIMEOUT: "3000",
    OTLP_TRACE_MAX_QUEUE_SIZE: "2048",
    OTLP_TRACE_SCHEDULE_DELAY_MILLIS: "3000",
    OTLP_TRACE_MAX_EXPORT_BATCH_SIZE: "2048",
    OTLP_TRACE_EXPORT_TIMEOUT_MILLIS: "3000",
    OTLP_METRIC_EXPORT_INTERVAL_MILLIS: "3000",
  });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(r.config.otlp.trace, {
    timeout: 3000,
    max_queue_size: 2048,
    schedule_delay: 3000,
    max_export_batch_size: 2048,
    export_timeout: 3000,
  });
  assert.equal(r.config.otlp.metric.export_interval, 3000);
  const big = parseConfigText("", {
    OTLP_TRACE_MAX_QUEUE_SIZE: "100",
    OTLP_TRACE_MAX_EXPORT_BATCH_SIZE: "500",
  });
  assert.ok(big.ok);
  if (big.ok) {
    assert.equal(
      big.config.otlp.trace.max_export_batch_size,
      100,
      "a batch over the queue is clamped",
    );
  }
  const bad = parseConfigText("", { OTLP_TRACE_MAX_QUEUE_SIZE: "lots" });
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(
      formatProblem(bad.problems[0]),
      'OTLP_TRACE_MAX_QUEUE_SIZE: "lots" is not a whole number',
    );
  }
});

Deno.test("the standard OTEL_EXPORTER_OTLP_* variables fill in the protocol, endpoint and headers", () => {
  const r = parseConfigText("otlp: { enable: true }\n", {
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc,x-team=ops",
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  if (!r.ok) return;
  assert.equal(r.config.otlp.endpoint, "http://collector:4318");
  assert.equal(r.config.otlp.protocol, "http/protobuf");
  assert.deepEqual(r.config.otlp.headers, { authorization: "Bearer abc", "x-team": "ops" });
});

Deno.test("OTLP export settings: per-signal beat general beat OTLP_ENDPOINT; signal paths appended to base URLs", async (t) => {
  const cases: {
    name: string;
    env: Record<string, string>;
    traces: { url: string; protocol: string };
    metrics: { url: string; protocol: string };
  }[] = [
    {
      name: "the platform's host:port is gRPC",
      env: { OTLP_ENDPOINT: "10.0.0.5:4317" },
      traces: { url: "http://10.0.0.5:4317", protocol: "grpc" },
      metrics: { url: "http://10.0.0.5:4317", protocol: "grpc" },
    },
    {
      name: "OTEL_EXPORTER_OTLP_ENDPOINT beats OTLP_ENDPOINT; a base path keeps its prefix",
      env: {
        OTLP_ENDPOINT: "10.0.0.5:4317",
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/otel",
      },
      traces: { url: "http://collector:4318/otel/v1/traces", protocol: "http/protobuf" },
      metrics: { url: "http://collector:4318/otel/v1/metrics", protocol: "http/protobuf" },
    },
    {
      name: "a per-signal endpoint is used as given, and its protocol beats the general one",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:9999/custom",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "metrics:4317",
      },
      traces: { url: "http://traces:9999/custom", protocol: "http/protobuf" },
      metrics: { url: "http://metrics:4317", protocol: "grpc" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const r = parseConfigText("otlp: { enable: true }\n", c.env);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
      if (!r.ok) return;
      for (const signal of ["traces", "metrics"] as const) {
        const { url, protocol } = otlpTarget(r.config.otlp, signal);
        assert.deepEqual({ url, protocol }, c[signal], signal);
      }
    });
  }
  await t.step("per-signal headers replace the general ones", () => {
    const r = parseConfigText("", {
      OTEL_EXPORTER_OTLP_HEADERS: "x-team=ops",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-team=traces",
    });
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.deepEqual(otlpTarget(r.config.otlp, "traces").headers, { "x-team": "traces" });
    assert.deepEqual(otlpTarget(r.config.otlp, "metrics").headers, { "x-team": "ops" });
  });
  await t.step("OTLP_ENABLE is on for true, 1, yes, on only", () => {
    for (
      const [text, on] of [
        ["1", true],
        ["true", true],
        ["YES", true],
        ["on", true],
        [
          "0",
          false,
        ],
        ["2", false],
        ["enabled", false],
      ] as const
    ) {
      const r = parseConfigText("otlp: { enable: true }\n", { OTLP_ENABLE: text });
      assert.ok(r.ok);
      if (r.ok) assert.equal(r.config.otlp.enable, on, text);
    }
  });
});

Deno.test("the SPEC's example config is valid as written", () => {
  const yaml = `
server:
  listen: 127.0.0.1:9477
  write_token: \${ASTRON_WATCH_TOKEN}
  read_token: ""
log: { dir: ./logs, file: astron-watch.log, level: info, format: json, max_size: 10MB, keep: 10, compress: true, flush_interval: 1s }
store: { url: "sqlite:./data/astron-watch.db", retention: 7d, max_size: 2GB, blob_dir: ./data/blobs, inline_limit: 5KiB }
otlp: { enable: false, endpoint: "127.0.0.1:4317", service_name: astron-watch }
probes:
  - name: nginx
    type: http
    kind: server
    url: http://127.0.0.1:10080/nginx-health
    interval: 30s
    timeout: 10s
    retries: 3
    expect: { status: [200], body_contains: healthy, max_latency: 500ms }
  - { name: mysql, type: tcp, kind: rely, target: "127.0.0.1:3306" }
  - { name: postgres, type: postgres, kind: rely, url: "postgres://spark:\${PG_PASSWORD}@127.0.0.1:5432/sparkdb_manager" }
  - name: workflow-stream
    type: sse
    kind: server
    url: http://127.0.0.1:10080/workflow/v1/chat/completions
    method: POST
    headers: { Authorization: "Bearer \${WORKFLOW_API_KEY}" }
    body: '{"flow_id":"\${FLOW_ID}","stream":true,"parameters":{"AGENT_USER_INPUT":"ping"}}'
    interval: 5m
    timeout: 60s
    expect: { first_event_within: 5s }
`;
  const r = parseConfigText(yaml, { FLOW_ID: "f1", WORKFLOW_API_KEY: "k" });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  if (!r.ok) return;
  assert.equal(r.config.probes.length, 4);
  assert.equal(r.config.probes[3].method, "POST");
  assert.equal(
    r.config.probes[3].body,
    '{"flow_id":"f1","stream":true,"parameters":{"AGENT_USER_INPUT":"ping"}}',
  );
  assert.equal(r.config.probes[3].expect.first_event_within, 5000);
  assert.deepEqual(r.config.probes[1].target, { host: "127.0.0.1", port: 3306 });
});

Deno.test("follow_redirects is off unless an http probe turns it on", () => {
  const r = parseConfigText(
    probe("    follow_redirects: true\n") +
      "  - name: off\n    type: http\n    url: http://127.0.0.1:8080/\n",
    {},
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  if (!r.ok) return;
  assert.equal(r.config.probes[0].follow_redirects, true);
  assert.equal(r.config.probes[1].follow_redirects, false);
});

Deno.test("durations and sizes parse in human units", async (t) => {
  const durations: [string, number | undefined][] = [
    ["500ms", 500],
    ["15s", 15_000],
    ["1m30s", 90_000],
    ["7d", 604_800_000],
    ["30d", 2_592_000_000],
    ["400d", 34_560_000_000],
    ["1y", 31_536_000_000],
    ["1y12h", 31_579_200_000],
    ["1.5h", 5_400_000],
    ["0", 0],
    ["fast", undefined],
    ["10", undefined],
    ["5 s", undefined],
    ["", undefined],
  ];
  for (const [text, ms] of durations) {
    await t.step(
      `duration ${JSON.stringify(text)} is ${ms}`,
      () => assert.equal(parseDuration(text), ms),
    );
  }
  const sizes: [string, number | undefined][] = [
    ["10MB", 10_000_000],
    ["512KiB", 524_288],
    ["2GB", 2_000_000_000],
    ["1GiB", 1_073_741_824],
    ["100", 100],
    ["5kb", 5_000],
    ["10XB", undefined],
    ["MB", undefined],
  ];
  for (const [text, bytes] of sizes) {
    await t.step(
      `size ${JSON.stringify(text)} is ${bytes}`,
      () => assert.equal(parseSize(text), bytes),
    );
  }
});

Deno.test("a reload sees a changed route or line pattern (a RegExp is not {} to it)", () => {
  const read = (pattern: string) => {
    const r = parseConfigText(
      `access_logs:\n  - { name: n, path: /tmp/a.log, routes: { api: ["${pattern}"] } }\n`,
      {},
    );
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.config.access_logs;
  };
  assert.ok(sameEntries(read("^/api/"), read("^/api/")));
  assert.ok(!sameEntries(read("^/api/"), read("^/v2/")));
});
