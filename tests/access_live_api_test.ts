/**
 * `GET /api/v1/access` beyond the counts: a spawned agent follows a `main`
 * log the test writes, with path traversal, a scanner, a 404 storm and a
 * minute of 5xx; the answer names each, with the top lists and visitors,
 * and the same after the agent is restarted (the hours are saved at stop).
 */

import assert from "node:assert/strict";
import { type AgentProcess, spawnAgent, tempDir } from "./support/agent.ts";
import { timeLocal } from "./fixtures/nginx_log.ts";

const line = (client: string, path: string, status: number, ua = "curl/8.5.0") =>
  `${client} - - [${timeLocal(Date.now())}] "GET ${path} HTTP/1.1" ${status} 12 "-" "${ua}" "-"\n`;

interface Answer {
  requests: number;
  unique_visitors: { count: number; exact: boolean };
  top: Record<string, { value: string; requests: number }[]>;
  suspicious: {
    reason: string;
    requests: number;
    clients: number;
    examples: { request: string }[];
  }[];
  bursts: { errors_5xx: number; requests: number }[];
}

async function answer(agent: AgentProcess, n: number): Promise<Answer> {
  const until = Date.now() + 20_000;
  for (;;) {
    const res = await agent.fetch("/api/v1/access?since=1h");
    // 503 while the access logs start (the API listens first); then the counts grow to n.
    const a: Answer = res.status === 503 ? { requests: -1 } as Answer : await res.json();
    if (res.status === 503) await res.body?.cancel();
    if (a.requests === n) return a;
    assert.ok(a.requests < n && Date.now() < until, `the agent counts ${a.requests} of ${n}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("access API: suspicious requests, 404 storms, 5xx bursts, top lists and visitors, also after a restart", async () => {
  await using dir = await tempDir();
  const log = `${dir.path}/access.log`;
  const lines = [
    line("10.0.0.1", "/../../etc/passwd", 400),
    line("10.0.0.2", "/static/..%2f..%2fetc/passwd", 400),
    line("10.0.0.3", "/", 200, "sqlmap/1.7.2#stable (https://sqlmap.org)"),
    ...Array.from({ length: 60 }, (_, i) => line("10.9.9.9", `/wp-admin/${i}.php`, 404)),
    ...Array.from({ length: 30 }, () => line("10.0.0.4", "/console-api/app/list", 502)),
    ...Array.from({ length: 20 }, () => line("10.0.0.4", "/console-api/app/list", 200)),
  ];
  await Deno.writeTextFile(log, lines.join(""));
  const config = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    config,
    `log: { stderr: always }
server: { listen: 127.0.0.1:0, shutdown_timeout: 5s }
access_logs:
  - { name: nginx, path: "${log}", poll_interval: 50ms }
`,
  );
  const check = (a: Answer) => {
    const by = Object.fromEntries(a.suspicious.map((g) => [g.reason, g]));
    assert.equal(by.path_traversal?.requests, 2, JSON.stringify(a.suspicious));
    assert.equal(by.path_traversal.clients, 2);
    assert.equal(by.scanner_agent?.requests, 1);
    assert.deepEqual([by.not_found_storm?.requests, by.not_found_storm?.clients], [60, 1]);
    assert.deepEqual(a.bursts.map((b) => [b.requests, b.errors_5xx]), [[113, 30]]);
    assert.deepEqual(a.top.clients[0], { ...a.top.clients[0], value: "10.9.9.9", requests: 60 });
    assert.deepEqual(a.top.paths[0], {
      ...a.top.paths[0],
      value: "/console-api/app/list",
      requests: 50,
    });
    // 404s are not visitors: 10.0.0.3 (200) and 10.0.0.4 (502 and 200), each with one agent.
    assert.deepEqual(a.unique_visitors, { count: 2, exact: true });
  };
  let agent = await spawnAgent({ config });
  try {
    const first = await answer(agent, lines.length);
    check(first);
    agent.kill("SIGTERM");
    assert.equal((await agent.exit()).code, 0);
    agent = await spawnAgent({ config });
    const again = await answer(agent, lines.length);
    check(again);
    assert.deepEqual(again.suspicious, first.suspicious);
  } finally {
    await agent.close();
  }
});
