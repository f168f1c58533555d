/**
 * The `alertmanager` channel against a real Alertmanager (Debian's
 * `prometheus-alertmanager`, started here on loopback): the alert shows
 * through Alertmanager's own API while the probe is down, and leaves its
 * active list once the probe is back.
 */

import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { TcpTarget } from "./support/receivers.ts";

const AM = "/usr/bin/prometheus-alertmanager";
const missing = await Deno.stat(AM).then(() => false, () => true);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitUntil(what: string, pred: () => Promise<boolean>, ms = 30_000) {
  const until = Date.now() + ms;
  while (!await pred()) {
    if (Date.now() > until) throw new Error(`not within ${ms}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface AmAlert {
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

Deno.test({
  name: "alerts: a real Alertmanager shows the alert through its API, then no longer once resolved",
  ignore: missing,
  async fn() {
    await using dir = await tempDir();
    const port = freePort();
    await Deno.writeTextFile(
      `${dir.path}/am.yml`,
      `route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n`,
    );
    const am = new Deno.Command(AM, {
      args: [
        `--config.file=${dir.path}/am.yml`,
        `--storage.path=${dir.path}/am-data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const amLog = new Response(am.stderr).text();
    const base = `http://127.0.0.1:${port}`;
    const api = new TcpTarget();
    await Deno.writeTextFile(
      `${dir.path}/c.yaml`,
      `log: { stderr: always }
server: { listen: 127.0.0.1:0, shutdown_timeout: 5s }
probes:
  - { name: api, type: tcp, target: "${api.target}", interval: 200ms, timeout: 150ms, retries: 1, jitter: 0s }
alerts:
  evaluation_interval: 100ms
  group_wait: 0s
  channels:
    am: { type: alertmanager, url: "${base}", retry_interval: 200ms }
  rules:
    - name: service-down
      probe_down: { probes: [api] }
      severity: critical
      labels: { team: platform }
      annotations: { summary: "{{ $labels.probe }} down: {{ $value }}" }
      channels: [am]
`,
    );
    const alerts = async (): Promise<AmAlert[]> => {
      try {
        const res = await fetch(`${base}/api/v2/alerts`);
        if (res.ok) return await res.json();
        await res.body?.cancel();
        return [];
      } catch {
        return [];
      }
    };
    await waitUntil("alertmanager ready", async () => {
      try {
        const res = await fetch(`${base}/-/ready`);
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    });
    const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
    try {
      api.down();
      await waitUntil(
        "the alert in Alertmanager",
        async () => (await alerts()).some((a) => a.labels.alertname === "service-down"),
      );
      const [a] = (await alerts()).filter((a) => a.labels.alertname === "service-down");
      assert.equal(a.labels.probe, "api");
      assert.equal(a.labels.severity, "critical");
      assert.equal(a.labels.team, "platform");
      assert.equal(a.status.state, "active");
      assert.match(a.generatorURL, /\/api\/v1\/alerts\?rule=service-down$/);
      assert.ok(Date.parse(a.endsAt) > Date.now(), "a firing alert ends in the future");
      api.up();
      await waitUntil(
        "resolved in Alertmanager",
        async () => !(await alerts()).some((a) => a.labels.alertname === "service-down"),
      );
      const status = await (await agent.fetch("/status?format=json")).json();
      assert.ok(status.alerts.channels.am.sent >= 2, JSON.stringify(status.alerts.channels));
    } finally {
      await agent.close();
      api.close();
      am.kill("SIGTERM");
      await am.status;
      await amLog;
    }
  },
});
