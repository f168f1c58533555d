/**
 * Rules over the workflow runs in the store: `node_log` (ERROR node logs
 * with `Exception` or `Timeout`) names the run's sid, links it, and quotes
 * the first matching line; `error_ratio` over workflow runs counts runs whose
 * `status.code` is not 0.
 */

import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { Receiver } from "./support/receivers.ts";
import { chatRun, errorRun } from "./fixtures/workflow.ts";

interface Body {
  alerts: {
    status: string;
    rule: string;
    value: number;
    annotations: { summary: string; description: string };
  }[];
}

Deno.test("alerts: node_log names the failing run and its first ERROR line; workflow error_ratio counts failed runs", async () => {
  await using dir = await tempDir();
  const hook = await Receiver.start();
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    `log: { stderr: always }
server: { listen: 127.0.0.1:0, write_token: tok, shutdown_timeout: 5s }
probes: []
alerts:
  evaluation_interval: 100ms
  group_wait: 0s
  language: en
  channels:
    hook: { type: webhook, url: "${hook.url}/hook" }
  rules:
    - name: node-errors
      node_log: { level: ERROR, keywords: [Exception, Timeout], count: 1, window: 5m }
      channels: [hook]
    - name: no-such-words
      node_log: { keywords: [Segfault], window: 5m }
      channels: [hook]
    - name: workflow-errors
      error_ratio: { source: workflow, window: 5m, threshold: 10%, min_requests: 2 }
      annotations: { summary: "{{ $rule }}: {{ $value }} of runs failed" }
      channels: [hook]
`,
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    const failed = errorRun();
    const res = await agent.fetch("/api/v1/traces", {
      method: "POST",
      headers: { authorization: "Bearer tok", "content-type": "application/json" },
      body: JSON.stringify([chatRun(), failed]),
    });
    assert.equal(res.status, 202, await res.text());
    const firing = (rule: string) =>
      hook.json<Body>().flatMap((b) => b.alerts).filter((a) =>
        a.rule === rule && a.status === "firing"
      );
    await hook.waitFor(() =>
      firing("node-errors").length > 0 && firing("workflow-errors").length > 0
    );
    const node = firing("node-errors")[0];
    assert.equal(node.value, 1);
    assert.match(node.annotations.description, /^ERROR Timeout: LLM/);
    assert.ok(node.annotations.description.includes(`/api/v1/traces/${failed.sid}`));
    const ratio = firing("workflow-errors")[0];
    assert.equal(ratio.value, 0.5);
    assert.equal(ratio.annotations.summary, "workflow-errors: 50.0% of runs failed");
    assert.equal(firing("no-such-words").length, 0);
  } finally {
    await agent.close();
    await hook.close();
  }
});
