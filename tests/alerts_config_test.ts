/**
 * The `alerts:` config section (issue 12): the example parses into
 * the typed values; each bad input is one problem naming its path and value
 * (in-process and through `astron-watch check`); `alerts export --prometheus`
 * prints a rule file Prometheus accepts.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseConfigText } from "../src/config/load.ts";
import { formatProblem } from "../src/config/reader.ts";
import { cli, tempDir } from "./support/agent.ts";

/** The config contract, verbatim. */
const CONTRACT = `alerts:
  evaluation_interval: 15s
  language: zh
  channels:
    ops-hook: { type: webhook, url: "https://hooks.example/astron", secret: "\${HOOK_SECRET}" }
    am: { type: alertmanager, url: "http://127.0.0.1:9093" }
    ding: { type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=\${DING_TOKEN}", secret: "\${DING_SECRET}" }
  rules:
    - name: service-down
      probe_down: { probes: ["*"] }
      for: 1m
      channels: [ops-hook, am]
    - name: workflow-error-ratio
      error_ratio: { source: otlp, service: core-workflow, window: 5m, threshold: 1%, min_requests: 100 }
      for: 5m
      severity: critical
      channels: [ding]
    - name: node-errors
      node_log: { level: ERROR, keywords: [Exception, Timeout], count: 1, window: 5m }
      channels: [ding]
  silences: []
`;

const CONTRACT_ENV = { HOOK_SECRET: "hook-s3cret", DING_TOKEN: "tok123", DING_SECRET: "SECabc" };

function parsedAlerts(text: string, env: Record<string, string>) {
  const r = parseConfigText(text, env);
  assert.ok(r.ok, r.ok ? "" : r.problems.map(formatProblem).join("\n"));
  return r.config.alerts;
}

Deno.test("the issue's alerts example parses into typed values", () => {
  const a = parsedAlerts(CONTRACT, CONTRACT_ENV);
  assert.equal(a.evaluation_interval, 15_000);
  assert.equal(a.language, "zh");
  assert.deepEqual(a.silences, []);

  assert.deepEqual(Object.keys(a.channels), ["ops-hook", "am", "ding"]);
  assert.equal(a.channels["ops-hook"].type, "webhook");
  assert.equal(a.channels["ops-hook"].url, "https://hooks.example/astron");
  assert.equal(a.channels["ops-hook"].secret, "hook-s3cret");
  assert.equal(a.channels.am.type, "alertmanager");
  assert.equal(a.channels.am.url, "http://127.0.0.1:9093/");
  assert.equal(a.channels.am.secret, "");
  assert.equal(a.channels.ding.type, "dingtalk");
  assert.equal(
    a.channels.ding.url,
    "https://oapi.dingtalk.com/robot/send?access_token=tok123",
  );
  assert.equal(a.channels.ding.secret, "SECabc");

  assert.deepEqual(a.rules.map((r) => r.name), [
    "service-down",
    "workflow-error-ratio",
    "node-errors",
  ]);
  const [down, ratio, nodes] = a.rules;
  assert.deepEqual(down.condition, { kind: "probe_down", probes: ["*"] });
  assert.equal(down.for, 60_000);
  assert.equal(down.severity, "warning");
  assert.deepEqual(down.channels, ["ops-hook", "am"]);

  assert.deepEqual(ratio.condition, {
    kind: "error_ratio",
    source: "otlp",
    match: ["core-workflow"],
    by_func: false,
    func: "*",
    window: 300_000,
    threshold: 0.01,
    min_requests: 100,
  });
  assert.equal(ratio.for, 300_000);
  assert.equal(ratio.severity, "critical");
  assert.deepEqual(ratio.channels, ["ding"]);

  assert.deepEqual(nodes.condition, {
    kind: "node_log",
    level: "ERROR",
    keywords: ["Exception", "Timeout"],
    regex: undefined,
    count: 1,
    window: 300_000,
  });
  assert.equal(nodes.for, 0);
  assert.deepEqual(nodes.channels, ["ding"]);
});

Deno.test("the issue's alerts example parses with ${VAR:-default} and no environment", () => {
  const text = CONTRACT
    .replace("${HOOK_SECRET}", "${HOOK_SECRET:-dev-hook}")
    .replace("${DING_TOKEN}", "${DING_TOKEN:-dev-token}")
    .replace("${DING_SECRET}", "${DING_SECRET:-}");
  const a = parsedAlerts(text, {});
  assert.equal(a.channels["ops-hook"].secret, "dev-hook");
  assert.equal(a.channels.ding.url, "https://oapi.dingtalk.com/robot/send?access_token=dev-token");
  assert.equal(a.channels.ding.secret, "");
  assert.equal(a.rules.length, 3);
});

Deno.test("check accepts the issue's alerts example", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/astron-watch.yaml`;
  await Deno.writeTextFile(file, CONTRACT);
  const result = await cli(["check", "--config", file], { env: CONTRACT_ENV });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  // No `probes:`: the agent's own API probe, which `probes: ["*"]` names.
  assert.equal(result.stdout, `${file}: ok (1 probe)\n`);
});

/** Two probes, one channel, a one-day retention; `extra` goes under `alerts:`. */
const withAlerts = (extra: string) =>
  `store:
  retention: 1d
probes:
  - { name: web, type: http, url: "http://127.0.0.1:8080/" }
  - { name: redis-main, type: tcp, target: "127.0.0.1:6379" }
alerts:
  channels:
    hook: { type: webhook, url: "http://127.0.0.1:9/hook" }
${extra}`;

/** Each config is wrong in exactly one way: one problem, its path and its value. */
const BAD: { name: string; yaml: string; line: string; cli?: boolean }[] = [
  {
    name: "an unknown probe in probe_down.probes",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: { probes: [web, nope] }
`),
    line: 'alerts.rules[0].probe_down.probes[1]: "nope" names no probe (probes: web, redis-main)',
    cli: true,
  },
  {
    name: "a glob that names no probe",
    yaml: withAlerts(`  rules:
    - name: certs
      cert_expiry: { probes: ["pg-*"] }
`),
    line: 'alerts.rules[0].cert_expiry.probes[0]: "pg-*" names no probe (probes: web, redis-main)',
  },
  {
    name: "an unknown probe in an error_ratio over probes",
    yaml: withAlerts(`  rules:
    - name: ratio
      error_ratio: { source: probes, probes: [redis], threshold: 5% }
`),
    line: 'alerts.rules[0].error_ratio.probes[0]: "redis" names no probe (probes: web, redis-main)',
  },
  {
    name: "an unknown source",
    yaml: withAlerts(`  rules:
    - name: ratio
      error_ratio: { source: kafka, threshold: 1% }
`),
    line:
      'alerts.rules[0].error_ratio.source: "kafka" is not one of otlp | probes | workflow | access_log',
  },
  {
    name: "an unknown channel",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      channels: [hook, pager]
`),
    line: 'alerts.rules[0].channels[1]: "pager" is not a channel in alerts.channels (known: hook)',
    cli: true,
  },
  {
    // `c in channels` took Object.prototype's names as channels.
    name: "a channel named like an Object.prototype member",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      channels: [constructor]
`),
    line:
      'alerts.rules[0].channels[0]: "constructor" is not a channel in alerts.channels (known: hook)',
  },
  {
    name: "an unknown label in group_by",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      group_by: [probe, service]
`),
    line:
      'alerts.rules[0].group_by[1]: "service" is not a label of this rule (rule, severity, probe)',
  },
  {
    name: "an unknown label in a template",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      labels: { team: ops }
      annotations: { summary: "{{ $labels.probe }} of {{ $labels.team }} is down", description: "{{ $labels.nope }}" }
`),
    line:
      'alerts.rules[0].annotations.description: {{ $labels.nope }}: "nope" is not a label of this rule (rule, severity, probe, team)',
    cli: true,
  },
  {
    name: "a template with a Go field that is not a variable",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      annotations: { summary: "{{ .Foo }} is down" }
`),
    line:
      "alerts.rules[0].annotations.summary: {{ .Foo }} is not one of $value, $rule, $severity, $link, $details, $labels.NAME",
  },
  {
    name: "a template with an unclosed {{",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      annotations: { summary: "{{ $labels.probe }} is down {{ $value" }
`),
    line:
      'alerts.rules[0].annotations.summary: unbalanced "{{" or "}}" in "{{ $labels.probe }} is down {{ $value"',
  },
  {
    name: "a for longer than store.retention",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      for: 2d
`),
    line: 'alerts.rules[0].for: "2d" is longer than store.retention',
  },
  {
    name: "a window longer than store.retention",
    yaml: withAlerts(`  rules:
    - name: drops
      log_drops: { window: 36h }
`),
    line: 'alerts.rules[0].log_drops.window: "36h" is longer than store.retention',
  },
  {
    // The rule naming the broken channel must not add "not a channel": it is one.
    name: "a channel URL that is not http(s)",
    yaml: withAlerts(`    files: { type: webhook, url: "ftp://x" }
  rules:
    - name: down
      probe_down: {}
      channels: [files]
`),
    line: 'alerts.channels.files.url: "ftp://x" has scheme ftp, expected http or https',
    cli: true,
  },
  {
    name: "two conditions in one rule",
    yaml: withAlerts(`  rules:
    - name: down
      probe_down: {}
      cert_expiry: { days: 7 }
`),
    line: "alerts.rules[0]: has probe_down and cert_expiry: a rule has one condition",
  },
  {
    name: "a rule without a condition",
    yaml: withAlerts(`  rules:
    - name: down
      for: 1m
`),
    line:
      "alerts.rules[0]: needs one condition (probe_down | error_ratio | latency | node_log | absent | cert_expiry | store_budget | log_drops | service_log | backup_age)",
  },
  {
    name: "a duplicate rule name",
    yaml: withAlerts(`  rules:
    - { name: down, probe_down: {} }
    - { name: budget, store_budget: { above: 80% } }
    - { name: down, cert_expiry: {} }
`),
    line: 'alerts.rules[2].name: "down" is already used by alerts.rules[0]',
  },
  {
    name: "a bad silence matcher",
    yaml: withAlerts(`  silences:
    - matchers: ["rule=service-down", "probe"]
      ends_at: "2030-01-01T00:00:00Z"
`),
    line:
      'alerts.silences[0].matchers[1]: "probe" is not a matcher like rule="x" or probe=~"redis.*"',
  },
  {
    name: "a silence matcher with a bad regex",
    yaml: withAlerts(`  silences:
    - matchers: ['probe=~"redis(("']
      ends_at: "2030-01-01T00:00:00Z"
`),
    line:
      'alerts.silences[0].matchers[0]: "probe=~\\"redis((\\"" is not a matcher like rule="x" or probe=~"redis.*"',
  },
  {
    name: "an inhibit rule without target matchers",
    yaml: withAlerts(`  inhibit_rules:
    - source_matchers: ['rule="nginx-down"']
`),
    line: 'alerts.inhibit_rules[0].target_matchers: is required (like ["rule=service-down"])',
  },
  {
    name: "an inhibit rule with a bad equal label",
    yaml: withAlerts(`  inhibit_rules:
    - source_matchers: ['rule="nginx-down"']
      target_matchers: ['rule="service-down"']
      equal: ["host name"]
`),
    line: 'alerts.inhibit_rules[0].equal[0]: "host name" is not a label name',
  },
  {
    name: "an email channel without to",
    yaml: withAlerts(
      `    mail: { type: email, url: "smtp://mail.example:25", from: "watch@example.com" }
`,
    ),
    line: "alerts.channels.mail.to: is required (a list of addresses)",
  },
];

Deno.test("each bad alerts input is one problem naming its path and value", async (t) => {
  for (const c of BAD) {
    await t.step(c.name, () => {
      const r = parseConfigText(c.yaml, {});
      assert.ok(!r.ok, `accepted:\n${c.yaml}`);
      if (r.ok) return;
      assert.deepEqual(r.problems.map(formatProblem), [c.line]);
    });
  }
});

Deno.test("check prints each bad alerts input as one path: message line and exits 2", async (t) => {
  await using dir = await tempDir();
  const cases = BAD.filter((c) => c.cli);
  assert.ok(cases.length >= 2);
  for (const c of cases) {
    await t.step(c.name, async () => {
      const file = `${dir.path}/bad.yaml`;
      await Deno.writeTextFile(file, c.yaml);
      const result = await cli(["check", "--config", file]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr, c.line + "\n");
      assert.equal(result.stdout, "");
    });
  }
});

Deno.test("a rule with problems still counts for duplicate names: both are named", () => {
  const r = parseConfigText(
    withAlerts(`  rules:
    - { name: down, probe_down: {} }
    - { name: down, probe_down: { probes: [nope] } }
`),
    {},
  );
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(r.problems.map(formatProblem), [
    'alerts.rules[1].probe_down.probes[0]: "nope" names no probe (probes: web, redis-main)',
    'alerts.rules[1].name: "down" is already used by alerts.rules[0]',
  ]);
});

/** One rule of each kind; the last three have no PromQL form. */
const EXPORT_CONFIG = `store:
  retention: 7d
probes:
  - { name: web, type: http, url: "https://127.0.0.1:8443/" }
  - { name: redis-main, type: tcp, target: "127.0.0.1:6379" }
alerts:
  channels:
    hook: { type: webhook, url: "http://127.0.0.1:9/hook" }
  rules:
    - name: service-down
      probe_down: { probes: ["redis-*", web] }
      for: 90s
      labels: { team: ops }
      annotations:
        summary: "{{ $labels.probe }} is down ({{ $value }}): {{ $rule }} {{ $severity }}"
        description: "{{ .Labels.team }} {{ .Value }} {{ $link }}{{ $details }}"
      channels: [hook]
    - name: cert-soon
      cert_expiry: { probes: [web], days: 21 }
    - name: func-errors
      error_ratio: { source: otlp, service: core-workflow, by: func, func: "chat*", window: 5m, threshold: 1%, min_requests: 100 }
      for: 5m
      severity: critical
    - name: probe-errors
      error_ratio: { source: probes, probes: ["*"], window: 90s, threshold: 0.5 }
    - name: slow
      latency: { source: otlp, service: ["core-*", agent], quantile: p90, window: 10m, above: 500ms }
    - name: silent
      absent: { source: otlp, service: core-workflow, window: 15m }
    - name: drops
      log_drops: { window: 1h, min: 10 }
    - name: node-errors
      node_log: { level: ERROR, keywords: [Exception, Timeout], count: 1, window: 5m }
    - name: budget
      store_budget: { above: 90% }
    - name: wf-errors
      error_ratio: { source: workflow, window: 5m, threshold: 2% }
`;

async function exportRules(dir: string): Promise<{ file: string; text: string }> {
  const config = `${dir}/astron-watch.yaml`;
  await Deno.writeTextFile(config, EXPORT_CONFIG);
  const result = await cli(["alerts", "export", "--prometheus", "-c", config]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  const file = `${dir}/rules.yml`;
  await Deno.writeTextFile(file, result.stdout);
  return { file, text: result.stdout };
}

interface PromRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

Deno.test("alerts export --prometheus: one rule per PromQL form, the rest as comments", async () => {
  await using dir = await tempDir();
  const { text } = await exportRules(dir.path);
  const doc = parse(text) as { groups: { name: string; rules: PromRule[] }[] };
  assert.equal(doc.groups.length, 1);
  assert.equal(doc.groups[0].name, "astron-watch");
  const rules = new Map(doc.groups[0].rules.map((r) => [r.alert, r]));
  assert.deepEqual([...rules.keys()], [
    "service-down",
    "cert-soon",
    "func-errors",
    "probe-errors",
    "slow",
    "silent",
    "drops",
  ]);

  assert.deepEqual(text.split("\n").filter((l) => /^# \S+ \(/.test(l)), [
    "# node-errors (node_log): no PromQL form: node logs are in the workflow runs in the store, not in metrics",
    "# budget (store_budget): no PromQL form: the store's size is not exported as a metric",
    "# wf-errors (error_ratio): no PromQL form: workflow runs are in the store, not in metrics",
  ]);

  const down = rules.get("service-down")!;
  assert.equal(down.expr, 'probe_success{probe=~"redis-.*|web"} == 0');
  // Prometheus takes whole units only: 90s is 1m30s, never 1.5m.
  assert.equal(down.for, "1m30s");
  assert.deepEqual(down.labels, { severity: "warning", team: "ops" });
  assert.deepEqual(down.annotations, {
    summary: "{{ $labels.probe }} is down ({{ $value }}): service-down warning",
    description: "{{ .Labels.team }} {{ .Value }} {{ $externalURL }}",
  });

  const ratio = rules.get("func-errors")!;
  const sel = 'service="core-workflow", func=~"chat.*"';
  const total = `sum by (service, func) (increase(server_request_total{${sel}}[5m]))`;
  const errors = `sum by (service, func) (increase(server_request_total{${sel}, ret!="0"}[5m]))`;
  assert.equal(ratio.expr, `(${errors} / ${total}) > 0.01 and ${total} >= 100`);
  assert.equal(ratio.for, "5m");
  assert.deepEqual(ratio.labels, { severity: "critical" });

  const probeRatio = rules.get("probe-errors")!;
  assert.match(probeRatio.expr, /server_request_total\{probe=~"\.\+", ret!="0"\}\[1m30s\]/);
  assert.equal(probeRatio.for, undefined);

  assert.equal(
    rules.get("cert-soon")!.expr,
    '(probe_ssl_earliest_cert_expiry{probe="web"} - time()) / 86400 < 21',
  );
  assert.equal(
    rules.get("slow")!.expr,
    'histogram_quantile(0.9, sum by (service, le) (rate(server_request_time_microseconds_bucket{service=~"core-.*|agent"}[10m]))) > 500',
  );
  assert.equal(
    rules.get("silent")!.expr,
    'absent_over_time(server_request_total{service="core-workflow"}[15m])',
  );
  assert.equal(
    rules.get("drops")!.expr,
    "increase(astron_watch_log_dropped_lines_total[1h]) >= 10",
  );
});

/** Why the promtool test cannot run here, or undefined when it can (decided at load time). */
const NO_PROMTOOL: string | undefined = (() => {
  try {
    const out = new Deno.Command("promtool", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return out.success ? undefined : `promtool --version exited ${out.code}`;
  } catch (err) {
    return err instanceof Deno.errors.NotFound
      ? "promtool is not on PATH"
      : `promtool cannot run: ${err}`;
  }
})();

Deno.test({
  name: "alerts export --prometheus: promtool check rules accepts the file" +
    (NO_PROMTOOL ? ` (ignored: ${NO_PROMTOOL})` : ""),
  ignore: NO_PROMTOOL !== undefined,
  async fn() {
    await using dir = await tempDir();
    const { file } = await exportRules(dir.path);
    const out = await new Deno.Command("promtool", {
      args: ["check", "rules", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const said = dec.decode(out.stdout) + dec.decode(out.stderr);
    assert.ok(out.success, `promtool check rules failed:\n${said}`);
    assert.match(said, /SUCCESS: 7 rules found/);
  },
});
