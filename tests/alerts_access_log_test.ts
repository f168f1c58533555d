/**
 * The alert rules' `access_log` source: a spawned agent follows an nginx
 * `main` log the test writes, and an `error_ratio` rule over the `sse` route's
 * 5xx share fires and resolves at a recording webhook receiver.
 */

import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { Receiver } from "./support/receivers.ts";
import { timeLocal } from "./fixtures/nginx_log.ts";
import { validateConfig } from "../src/config/schema.ts";

const line = (path: string, status: number) =>
  `10.0.0.1 - - [${
    timeLocal(Date.now())
  }] "POST ${path} HTTP/1.1" ${status} 12 "-" "curl/8.5.0" "-"\n`;

async function write(file: string, path: string, status: number, n: number) {
  await Deno.writeTextFile(file, line(path, status).repeat(n), { append: true });
}

interface Body {
  alerts: { status: string; rule: string; labels: Record<string, string>; repeat: boolean }[];
}

Deno.test("alerts: an error_ratio rule over an nginx access log's route fires past the threshold and resolves below it", async () => {
  await using dir = await tempDir();
  const hook = await Receiver.start();
  const log = `${dir.path}/access.log`;
  await write(log, "/workflow/v1/chat/completions", 200, 100);
  await write(log, "/console-api/app/list", 502, 50); // another route: not this rule's
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    `log: { stderr: always }
server: { listen: 127.0.0.1:0, shutdown_timeout: 5s }
access_logs:
  - { name: nginx, path: "${log}", poll_interval: 50ms }
alerts:
  evaluation_interval: 100ms
  group_wait: 0s
  channels:
    hook: { type: webhook, url: "${hook.url}/hook", retry_interval: 200ms }
  rules:
    - name: sse-5xx
      error_ratio: { source: access_log, route: sse, window: 5m, threshold: 0.05, min_requests: 10 }
      channels: [hook]
`,
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  const count = (status: string) =>
    hook.json<Body>().flatMap((b) => b.alerts)
      .filter((a) => a.rule === "sse-5xx" && a.status === status && !a.repeat);
  try {
    const requests = async () =>
      (await (await agent.fetch("/api/v1/access?since=1h")).json()).requests;
    const until = Date.now() + 20_000;
    while (await requests() !== 150) {
      assert.ok(Date.now() < until, "the agent did not count the first 150 requests");
      await new Promise((r) => setTimeout(r, 50));
    }
    await write(log, "/workflow/v1/chat/completions", 502, 20);
    await hook.waitFor(() => count("firing").length >= 1);
    assert.deepStrictEqual(count("firing")[0].labels.route, "sse");
    assert.deepStrictEqual(count("firing")[0].labels.log, "nginx");
    await write(log, "/workflow/v1/chat/completions", 200, 2000);
    await hook.waitFor(() => count("resolved").length >= 1);
    assert.deepStrictEqual(count("firing").length, 1);
    assert.deepStrictEqual(await requests(), 2170);
  } finally {
    await agent.close();
    await hook.close();
  }
});

Deno.test("config: access_logs and the access_log alert source name their bad values", () => {
  const r = validateConfig({
    access_logs: [
      { name: "nginx", path: "/x", format: '$remote_addr $nope "$request"' },
      { name: "nginx", format: "main", routes: { api: ["(unclosed"] } },
    ],
    alerts: {
      rules: [
        { name: "a", error_ratio: { source: "otlp", route: "sse" } },
        { name: "b", latency: { source: "access_log", above: "1s" } },
      ],
    },
  });
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => `${p.path}: ${p.message}`);
  for (
    const want of [
      "access_logs[0].format: unknown log_format variable $nope",
      'access_logs[1].name: "nginx" is already used',
      "access_logs[1].path: is required",
      "access_logs[1].routes.api[0]:",
      "alerts.rules[0].error_ratio.route: is for source access_log",
      "alerts.rules[1].latency.source: access_log is a source of error_ratio only",
    ]
  ) {
    assert.ok(paths.some((p) => p.startsWith(want)), `${want}\n${paths.join("\n")}`);
  }
});
