/**
 * Alerts end to end: a spawned agent probes a TCP target the test takes down
 * and brings back, and notifies a recording webhook receiver on loopback.
 */

import assert from "node:assert/strict";
import { type AgentProcess, spawnAgent, tempDir } from "./support/agent.ts";
import { Receiver, TcpTarget } from "./support/receivers.ts";
import { createHmac } from "node:crypto";

interface Body {
  version: string;
  status: string;
  alerts: { status: string; rule: string; labels: Record<string, string>; repeat: boolean }[];
}

function config(o: { target: string; flap: string; hook: string; extra?: string }): string {
  return `log:
  stderr: always
server:
  listen: 127.0.0.1:0
  write_token: tok
  shutdown_timeout: 5s
probes:
  - { name: api, type: tcp, target: "${o.target}", interval: 200ms, timeout: 150ms, retries: 1, jitter: 0s }
  - { name: flappy, type: tcp, target: "${o.flap}", interval: 200ms, timeout: 150ms, retries: 1, jitter: 0s }
alerts:
  evaluation_interval: 100ms
  group_wait: 0s
  language: en
  channels:
    hook: { type: webhook, url: "${o.hook}/hook", secret: s3cret, retry_interval: 200ms, max_retry_interval: 1s }
  rules:
    - name: service-down
      probe_down: { probes: [api] }
      severity: critical
      channels: [hook]
    - name: flappy-down
      probe_down: { probes: [flappy] }
      for: 1h
      channels: [hook]
${o.extra ?? ""}`;
}

/** Alerts in the agent's API answer. */
async function alerts(agent: AgentProcess): Promise<{ rule: string; state: string }[]> {
  const res = await agent.fetch("/api/v1/alerts");
  return (await res.json()).alerts;
}

async function waitUntil(what: string, pred: () => Promise<boolean> | boolean, ms = 20_000) {
  const until = Date.now() + ms;
  while (!await pred()) {
    if (Date.now() > until) throw new Error(`not within ${ms}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Evaluations the agent has run (from /status). */
async function evaluations(agent: AgentProcess): Promise<number> {
  const res = await agent.fetch("/status?format=json");
  return (await res.json()).alerts?.evaluations ?? 0;
}

/** Let `n` more evaluation cycles pass. */
async function cycles(agent: AgentProcess, n: number) {
  const from = await evaluations(agent);
  await waitUntil(`${n} evaluations`, async () => await evaluations(agent) >= from + n);
}

const count = (hook: Receiver, rule: string, status: string) =>
  hook.json<Body>().flatMap((b) => b.alerts)
    .filter((a) => a.rule === rule && a.status === status && !a.repeat).length;

Deno.test("alerts: a probe down then up gives one firing and one resolved; one flapping inside `for` gives none", async () => {
  await using dir = await tempDir();
  const api = new TcpTarget();
  const flappy = new TcpTarget();
  const hook = await Receiver.start();
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    config({ target: api.target, flap: flappy.target, hook: hook.url }),
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    await cycles(agent, 3);
    // The flapping probe goes down, is seen pending, and comes back before its hour.
    flappy.down();
    await waitUntil(
      "flappy pending",
      async () =>
        (await alerts(agent)).some((a) => a.rule === "flappy-down" && a.state === "pending"),
    );
    flappy.up();
    await waitUntil(
      "flappy cleared",
      async () => !(await alerts(agent)).some((a) => a.rule === "flappy-down"),
    );

    api.down();
    await hook.waitFor(() => count(hook, "service-down", "firing") >= 1);
    api.up();
    await hook.waitFor(() => count(hook, "service-down", "resolved") >= 1);
    await cycles(agent, 10);

    assert.deepStrictEqual(count(hook, "service-down", "firing"), 1);
    assert.deepStrictEqual(count(hook, "service-down", "resolved"), 1);
    assert.deepStrictEqual(
      count(hook, "flappy-down", "firing") + count(hook, "flappy-down", "resolved"),
      0,
    );
    // Each body is signed: HMAC-SHA256 of the exact body with the shared secret.
    for (const r of hook.requests) {
      const want = "sha256=" + createHmac("sha256", "s3cret").update(r.body).digest("hex");
      assert.deepStrictEqual(r.headers.get("x-astron-watch-signature"), want);
      assert.deepStrictEqual(JSON.parse(r.body).version, "1");
    }
    const firing = hook.json<Body>().find((b) => b.status === "firing")!;
    assert.deepStrictEqual(firing.alerts[0].labels.probe, "api");
    assert.deepStrictEqual(firing.alerts[0].labels.severity, "critical");

    // The history holds both transitions; the metrics count two deliveries.
    const history = await (await agent.fetch("/api/v1/alerts/history?since=1h")).json();
    const events = history.events.filter((e: { rule: string }) => e.rule === "service-down")
      .map((e: { event: string }) => e.event);
    assert.deepStrictEqual(events, ["resolved", "firing"]);
    const metrics = await (await agent.fetch("/metrics")).text();
    assert(
      /astron_watch_notifications_total\{[^}]*channel="hook"[^}]*result="sent"[^}]*\} 2\b/.test(
        metrics,
      ),
      metrics.split("\n").filter((l) => l.includes("notifications")).join("\n"),
    );
    assert(/astron_watch_alerts\{[^}]*rule="service-down"/.test(metrics));
  } finally {
    await agent.close();
    await hook.close();
    api.close();
    flappy.close();
  }
});

Deno.test("alerts: a receiver down for 30 s gets the message once after it returns", async () => {
  await using dir = await tempDir();
  const flappy = new TcpTarget();
  const hook = Receiver.reserve();
  // Down for the whole test: port 9 on loopback, where no test listens. (A
  // port let go by a target could be taken by another test's listener within
  // the 30 s, and the probe come up and fire a second time.)
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    config({ target: "127.0.0.1:9", flap: flappy.target, hook: hook.url }),
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    await agent.waitForLine((l) => l.msg === "alert delivery failed; will retry");
    const failedAt = Date.now();
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - failedAt)));
    await hook.up();
    await hook.waitFor(() => count(hook, "service-down", "firing") >= 1, 30_000);
    await cycles(agent, 10);
    assert.deepStrictEqual(count(hook, "service-down", "firing"), 1);
    const status = await (await agent.fetch("/status?format=json")).json();
    assert(status.alerts.channels.hook.failed >= 2, JSON.stringify(status.alerts.channels));
    assert.deepStrictEqual(status.alerts.channels.hook.queued, 0);
  } finally {
    await agent.close();
    await hook.close();
    flappy.close();
  }
});

Deno.test("alerts: an agent restarted while an alert fires sends nothing twice, and the resolved once", async () => {
  await using dir = await tempDir();
  const api = new TcpTarget();
  const flappy = new TcpTarget();
  const hook = await Receiver.start();
  const file = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    file,
    config({ target: api.target, flap: flappy.target, hook: hook.url }),
  );
  api.down();
  let agent = await spawnAgent({ config: file });
  try {
    await hook.waitFor(() => count(hook, "service-down", "firing") >= 1);
    agent.kill("SIGTERM");
    const stopped = await agent.exit();
    assert.deepStrictEqual(stopped.code, 0, stopped.stderr);
    agent = await spawnAgent({ config: file });
    await waitUntil(
      "firing again after the restart",
      async () =>
        (await alerts(agent)).some((a) => a.rule === "service-down" && a.state === "firing"),
    );
    await cycles(agent, 10);
    assert.deepStrictEqual(count(hook, "service-down", "firing"), 1);
    api.up();
    await hook.waitFor(() => count(hook, "service-down", "resolved") >= 1);
    await cycles(agent, 5);
    assert.deepStrictEqual(count(hook, "service-down", "resolved"), 1);
    assert.deepStrictEqual(count(hook, "service-down", "firing"), 1);
  } finally {
    await agent.close();
    await hook.close();
    api.close();
    flappy.close();
  }
});

Deno.test("alerts: a silence made through the API holds the notification; ending it lets it out", async () => {
  await using dir = await tempDir();
  const api = new TcpTarget();
  const flappy = new TcpTarget();
  const hook = await Receiver.start();
  await Deno.writeTextFile(
    `${dir.path}/c.yaml`,
    config({ target: api.target, flap: flappy.target, hook: hook.url }),
  );
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    // The API listens before the alert engine has started (it answers 503 until then).
    await agent.waitForLine((l) => l.msg === "started");
    const auth = { authorization: "Bearer tok", "content-type": "application/json" };
    const bad = await agent.fetch("/api/v1/silences", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ matchers: ["probe=~(api"], duration: "1h" }),
    });
    assert.deepStrictEqual(bad.status, 400);
    assert((await bad.json()).error.message.includes("matchers[0]"));
    const res = await agent.fetch("/api/v1/silences", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        matchers: ["rule=service-down", 'probe=~"a.*"'],
        duration: "1h",
        author: "test",
        comment: "maintenance",
      }),
    });
    assert.deepStrictEqual(res.status, 201);
    const { id } = await res.json();
    api.down();
    await waitUntil("silenced firing", async () => {
      const list = await (await agent.fetch("/api/v1/alerts")).json();
      return list.alerts.some((a: { state: string; silenced: boolean }) =>
        a.state === "firing" && a.silenced
      );
    });
    await cycles(agent, 5);
    assert.deepStrictEqual(hook.requests.length, 0);
    const del = await agent.fetch(`/api/v1/silences/${id}`, { method: "DELETE", headers: auth });
    assert.deepStrictEqual(del.status, 200);
    await del.body?.cancel();
    await hook.waitFor(() => count(hook, "service-down", "firing") === 1);
    const again = await agent.fetch(`/api/v1/silences/${id}`, { method: "DELETE", headers: auth });
    assert.deepStrictEqual(again.status, 404);
    await again.body?.cancel();
  } finally {
    await agent.close();
    await hook.close();
    api.close();
    flappy.close();
  }
});

Deno.test("alerts: a firing alert whose rule a reload removes is resolved once where it fired", async () => {
  await using dir = await tempDir();
  const api = new TcpTarget();
  const flappy = new TcpTarget();
  const hook = await Receiver.start();
  const file = `${dir.path}/c.yaml`;
  const text = config({ target: api.target, flap: flappy.target, hook: hook.url });
  await Deno.writeTextFile(file, text);
  const agent = await spawnAgent({ config: file });
  try {
    api.down();
    await hook.waitFor(() => count(hook, "service-down", "firing") >= 1);
    // The rule goes; the probe stays down: nothing evaluates it any more.
    const without = text.replace(
      / {4}- name: service-down\n( {6}.*\n)+?(?= {4}- name: flappy-down)/,
      "",
    );
    assert.notEqual(without, text);
    await Deno.writeTextFile(file, without);
    agent.kill("SIGHUP");
    await hook.waitFor(() => count(hook, "service-down", "resolved") >= 1);
    await cycles(agent, 10);
    assert.deepStrictEqual(count(hook, "service-down", "firing"), 1);
    assert.deepStrictEqual(count(hook, "service-down", "resolved"), 1);
    assert.deepStrictEqual((await alerts(agent)).filter((a) => a.rule === "service-down"), []);
  } finally {
    await agent.close();
    await hook.close();
    api.close();
    flappy.close();
  }
});

Deno.test("alerts: while nginx is down its children's probe_down alerts are inhibited, and sent once it is back", async () => {
  await using dir = await tempDir();
  const api = new TcpTarget();
  const nginx = new TcpTarget();
  const hook = await Receiver.start();
  const file = `${dir.path}/c.yaml`;
  await Deno.writeTextFile(
    file,
    config({
      target: api.target,
      flap: nginx.target,
      hook: hook.url,
      extra: `    - name: nginx-down
      probe_down: { probes: [flappy] }
      channels: [hook]
  inhibit_rules:
    - source_matchers: ['rule="nginx-down"']
      target_matchers: ['rule="service-down"']
`,
    }),
  );
  const agent = await spawnAgent({ config: file });
  try {
    await cycles(agent, 2);
    // Both go down at once: only nginx's alert is sent.
    nginx.down();
    api.down();
    await hook.waitFor(() => count(hook, "nginx-down", "firing") >= 1);
    await waitUntil(
      "service-down firing, inhibited",
      async () =>
        (await alerts(agent)).some((a) =>
          a.rule === "service-down" && a.state === "firing" &&
          (a as { silenced?: boolean }).silenced === true
        ),
    );
    await cycles(agent, 10);
    assert.deepStrictEqual(count(hook, "service-down", "firing"), 0);
    // nginx is back, the service is not: now its alert goes out, once.
    nginx.up();
    await hook.waitFor(() => count(hook, "nginx-down", "resolved") >= 1);
    await hook.waitFor(() => count(hook, "service-down", "firing") >= 1);
    api.up();
    await hook.waitFor(() => count(hook, "service-down", "resolved") >= 1);
    await cycles(agent, 5);
    assert.deepStrictEqual(count(hook, "service-down", "firing"), 1);
    assert.deepStrictEqual(count(hook, "service-down", "resolved"), 1);
    assert.deepStrictEqual(count(hook, "nginx-down", "firing"), 1);
  } finally {
    await agent.close();
    await hook.close();
    api.close();
    nginx.close();
  }
});
