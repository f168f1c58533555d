/**
 * Service logs: a spawned agent follows loguru files through a rotation and
 * a restart; counts per file and level, kept error examples and sid lines
 * are exact.
 */

import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { parseLoguru } from "../src/service_logs/parse.ts";
import { smallRun } from "./fixtures/workflow.ts";

const loguru = (level: string, message: string) =>
  `${level.padEnd(8)} | 2026-11-26 10:00:00 | 12 - 140 | main.py - run: 42 ${message}\n`;

/** A loguru line stamped now (local time, as loguru writes it), so it falls in a rule's window. */
const loguruNow = (level: string, message: string) => {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  const time = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return loguru(level, message).replace("2026-11-26 10:00:00", time);
};

async function status(agent: { fetch(p: string): Promise<Response> }) {
  return await (await agent.fetch("/status?format=json")).json();
}

Deno.test("service logs: loguru lines counted per level through a rotation and a restart, none twice", async () => {
  await using dir = await tempDir();
  const logs = `${dir.path}/logs`;
  await Deno.mkdir(logs);
  const cfg = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    cfg,
    `log: { stderr: always }
server: { listen: 127.0.0.1:0, shutdown_timeout: 5s }
service_logs:
  - { name: core, path: "${logs}/*.log", poll_interval: 50ms }
`,
  );
  await Deno.writeTextFile(
    `${logs}/core.log`,
    loguru("INFO", "started") + loguru("ERROR", "sid=spark@abc123 Timeout calling llm") +
      "Traceback (most recent call last):\n" + loguru("WARNING", "slow"),
  );
  const waitLines = async (agent: Awaited<ReturnType<typeof spawnAgent>>, n: number) => {
    const until = Date.now() + 20_000;
    for (;;) {
      const s = await status(agent);
      // The section shows once the component has started.
      const total = s.service_logs?.logs[0]?.lines;
      if (total === n) return s;
      assert.ok(Date.now() < until, `lines ${total}, want ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  let agent = await spawnAgent({ config: cfg });
  try {
    const s = await waitLines(agent, 4);
    assert.deepStrictEqual(s.service_logs.logs[0].errors, 1);
    assert.deepStrictEqual(s.service_logs.examples[0].sid, "spark@abc123");
    await Deno.rename(`${logs}/core.log`, `${logs}/core.2026-11-26_10-00-00_123456.log`);
    await Deno.writeTextFile(`${logs}/core.log`, loguru("ERROR", "Exception: boom"));
    await waitLines(agent, 5);
  } finally {
    await agent.close();
  }
  await Deno.writeTextFile(`${logs}/core.log`, loguru("INFO", "back"), { append: true });
  agent = await spawnAgent({ config: cfg });
  try {
    // Counted since this start: only the new line.
    await waitLines(agent, 1);
    const metrics = await (await agent.fetch("/metrics")).text();
    assert.match(
      metrics,
      /astron_watch_service_log_lines_total\{[^}]*file="core.log"[^}]*level="INFO"[^}]*\} 1\b/,
    );
  } finally {
    await agent.close();
  }
});

Deno.test("service logs: the loguru parser takes level, time, message and sid", () => {
  const l = parseLoguru(loguru("ERROR", 'sid: "abc-123456" failed: Timeout').trimEnd())!;
  assert.deepStrictEqual(l.level, "ERROR");
  assert.deepStrictEqual(l.message, 'sid: "abc-123456" failed: Timeout');
  assert.deepStrictEqual(l.sid, "abc-123456");
  assert.deepStrictEqual(new Date(l.time).getHours(), 10);
  assert.deepStrictEqual(parseLoguru("Traceback (most recent call last):"), undefined);
});

Deno.test("service logs: a run's answer carries the service log lines that name its sid", async () => {
  await using dir = await tempDir();
  const logs = `${dir.path}/logs`;
  await Deno.mkdir(logs);
  const cfg = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    cfg,
    `log: { stderr: always }
server: { listen: 127.0.0.1:0, write_token: tok }
service_logs:
  - { name: core, path: "${logs}/*.log", poll_interval: 50ms }
`,
  );
  const run = smallRun(7);
  await Deno.writeTextFile(
    `${logs}/core.log`,
    loguru("INFO", `sid=${run.sid} started`) + loguru("INFO", "sid=other@x1 unrelated") +
      loguru("ERROR", `sid=${run.sid} Timeout calling llm`),
  );
  const agent = await spawnAgent({ config: cfg });
  try {
    const posted = await agent.fetch("/api/v1/traces", {
      method: "POST",
      headers: { authorization: "Bearer tok", "content-type": "application/json" },
      body: JSON.stringify(run),
    });
    assert.deepStrictEqual(posted.status, 202, await posted.text());
    const until = Date.now() + 20_000;
    for (;;) {
      const res = await agent.fetch(`/api/v1/traces/${encodeURIComponent(run.sid)}`);
      const body = await res.json();
      const lines: { log: string; level: string; line: string }[] = body.service_log_lines ?? [];
      if (lines.length === 2) {
        // Both lines carry the same second: their order between them is not given.
        assert.deepStrictEqual(lines.map((l) => `${l.log} ${l.level}`).sort(), [
          "core ERROR",
          "core INFO",
        ]);
        assert.ok(lines.find((l) => l.level === "ERROR")!.line.includes("Timeout calling llm"));
        break;
      }
      assert.ok(Date.now() < until, `lines ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await agent.close();
  }
});

Deno.test("service logs: a service_log rule fires on ERROR lines naming a keyword, per log", async () => {
  await using dir = await tempDir();
  const logs = `${dir.path}/logs`;
  await Deno.mkdir(logs);
  const cfg = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    cfg,
    `log: { stderr: always }
server: { listen: 127.0.0.1:0 }
service_logs:
  - { name: core, path: "${logs}/core*.log", poll_interval: 50ms }
  - { name: quiet, path: "${logs}/quiet*.log", poll_interval: 50ms }
alerts:
  evaluation_interval: 100ms
  rules:
    - name: core-errors
      service_log: { logs: ["*"], keywords_only: true, count: 2, window: 5m }
`,
  );
  await Deno.writeTextFile(`${logs}/quiet.log`, loguruNow("ERROR", "Exception: once"));
  await Deno.writeTextFile(
    `${logs}/core.log`,
    loguruNow("ERROR", "Exception: boom") + loguruNow("ERROR", "no keyword here") +
      loguruNow("INFO", "Timeout is only INFO"),
  );
  const agent = await spawnAgent({ config: cfg });
  const firing = async () =>
    ((await (await agent.fetch("/api/v1/alerts")).json()).alerts as {
      rule: string;
      state: string;
      labels: Record<string, string>;
    }[]).filter((a) => a.state === "firing");
  try {
    await waitFor(async () => (await status(agent)).service_logs?.logs[0]?.lines === 3);
    await waitFor(async () => (await status(agent)).alerts?.evaluations >= 3);
    assert.deepStrictEqual(await firing(), []);
    await Deno.writeTextFile(`${logs}/core.log`, loguruNow("CRITICAL", "Timeout calling llm"), {
      append: true,
    });
    await waitFor(async () => (await firing()).length > 0);
    assert.deepStrictEqual((await firing()).map((a) => a.labels.log), ["core"]);
  } finally {
    await agent.close();
  }
});

async function waitFor(pred: () => Promise<boolean>, ms = 20_000) {
  const until = Date.now() + ms;
  while (!await pred()) {
    assert.ok(Date.now() < until, "not within 20s");
    await new Promise((r) => setTimeout(r, 50));
  }
}
