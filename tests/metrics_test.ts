import assert from "node:assert/strict";
import { AgentProcess, spawnAgent, tempDir } from "./support/agent.ts";
import { type Availability, freePort, serverTest, tcpServer, which } from "./support/servers.ts";
import { grpcReceiver, httpReceiver, type Received } from "./support/otlp_receiver.ts";

const PLATFORM_LABELS = [
  "app_id",
  "func",
  "dc",
  "server_host",
  "server_name",
  "pid",
  "ret",
  "probe",
  "target",
];

/** A web server (the "service"), a listening port (the "dependency") and a closed port. */
function targets() {
  const web = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("fine"),
  );
  const dep = tcpServer("closing");
  const closedPort = freePort();
  const yaml = `server: { listen: "127.0.0.1:0" }
log: { stderr: always }
probes:
  - { name: web, type: http, kind: server, url: "http://127.0.0.1:${web.addr.port}/", interval: 500ms, timeout: 400ms, jitter: 0s }
  - { name: db, type: tcp, kind: rely, target: "127.0.0.1:${dep.port}", interval: 500ms, timeout: 400ms, jitter: 0s }
  - { name: gone, type: tcp, kind: rely, target: "127.0.0.1:${closedPort}", interval: 500ms, timeout: 400ms, retries: 1, jitter: 0s }
`;
  return {
    yaml,
    async [Symbol.asyncDispose]() {
      await web.shutdown();
      await dep[Symbol.asyncDispose]();
    },
  };
}

async function startWithTargets(
  yaml: string,
  dir: string,
  env?: Record<string, string>,
): Promise<AgentProcess> {
  await Deno.writeTextFile(`${dir}/c.yaml`, yaml);
  const agent = await spawnAgent({ config: `${dir}/c.yaml`, env });
  await agent.waitForLine((l) => l.msg === "probe up" && l.probe === "web");
  await agent.waitForLine((l) => l.msg === "probe up" && l.probe === "db");
  await agent.waitForLine((l) => l.msg === "probe down" && l.probe === "gone");
  return agent;
}

function promtool(): Availability<string> {
  const bin = which("promtool");
  return bin
    ? { ok: true, value: bin }
    : { ok: false, reason: "no promtool: apt-get install prometheus" };
}

serverTest(
  "curl /metrics passes promtool check metrics, with the platform's names and labels",
  promtool(),
  async (bin) => {
    await using dir = await tempDir();
    await using t = targets();
    const agent = await startWithTargets(t.yaml, dir.path);
    try {
      const res = await agent.fetch("/metrics");
      assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();

      const check = new Deno.Command(bin, {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      })
        .spawn();
      const w = check.stdin.getWriter();
      await w.write(new TextEncoder().encode(text));
      await w.close();
      const out = await check.output();
      const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      // Exit 1 would be a malformed exposition; 3 is lint only. The one lint promtool has is the
      // platform's own name, server_request_time_microseconds, which users' dashboards depend on.
      assert.notEqual(out.code, 1, report);
      assert.deepEqual(
        report.trim().split("\n").filter(Boolean),
        out.code === 0
          ? []
          : ['server_request_time_microseconds use base unit "seconds" instead of "microseconds"'],
      );

      for (
        const [family, type] of [
          ["server_request_total", "counter"],
          ["server_request_time_microseconds", "histogram"],
          ["server_conc", "gauge"],
          ["rely_server_request_total", "counter"],
          ["rely_server_request_time", "histogram"],
          ["rely_server_conc", "gauge"],
          ["probe_success", "gauge"],
          ["probe_duration_seconds", "gauge"],
          ["probe_http_status_code", "gauge"],
        ]
      ) assert.match(text, new RegExp(`^# TYPE ${family} ${type}$`, "m"), family);

      const web = text.split("\n").find((l) =>
        l.startsWith("server_request_total{") && l.includes('probe="web"')
      )!;
      assert.ok(web, text);
      const labels = Object.fromEntries(
        [...web.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      assert.deepEqual(Object.keys(labels).sort(), [...PLATFORM_LABELS].sort());
      assert.equal(labels.ret, "0");
      assert.equal(labels.func, "http");
      assert.equal(labels.server_name, "astron-watch");
      assert.match(labels.pid, /^\d+$/);
      assert.match(web, /\} [1-9]\d*$/);

      assert.match(text, /^rely_server_request_total\{[^}]*probe="db"[^}]*ret="0"\} [1-9]/m);
      assert.match(
        text,
        /^rely_server_request_total\{[^}]*probe="gone"[^}]*ret="refused"\} [1-9]/m,
      );
      assert.match(text, /^probe_success\{probe="web",target="http:\/\/127\.0\.0\.1:\d+\/"\} 1$/m);
      assert.match(text, /^probe_success\{probe="gone",target="127\.0\.0\.1:\d+"\} 0$/m);
      assert.match(text, /^probe_http_status_code\{probe="web",[^}]*\} 200$/m);
      // The platform's milliseconds under its "microseconds" name: a loopback request takes
      // well under a second; the histogram points carry no ret.
      const sum = Number(
        /^server_request_time_microseconds_sum\{[^}]*probe="web"[^}]*\} ([\d.e+-]+)$/m.exec(text)
          ?.[1],
      );
      const count = Number(
        /^server_request_time_microseconds_count\{[^}]*probe="web"[^}]*\} (\d+)$/m.exec(text)?.[1],
      );
      assert.ok(count > 0 && sum / count > 0 && sum / count < 1000, `mean ${sum / count} ms`);
      assert.doesNotMatch(text, /^server_request_time_microseconds_count\{[^}]*ret=/m);

      agent.kill("SIGTERM");
      assert.equal((await agent.exit()).code, 0);
    } finally {
      await agent.close();
    }
  },
);

async function waitFor(received: Received, ms: number): Promise<void> {
  const until = Date.now() + ms;
  const ready = () =>
    received.metrics.some((m) => m.name === "server_request_total") &&
    received.metrics.some((m) => m.name === "rely_server_request") &&
    received.spans.some((s) => s.name === "probe web");
  while (!ready()) {
    if (Date.now() > until) {
      throw new Error(`OTLP data missing: ${JSON.stringify(received).slice(0, 500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function assertOtlp(received: Received): void {
  const point = received.metrics.find((m) =>
    m.name === "server_request_total" && m.attributes.probe === "web"
  )!;
  assert.ok(point);
  for (const label of PLATFORM_LABELS) assert.ok(label in point.attributes, `label ${label}`);
  assert.ok(received.metrics.some((m) => m.name === "server_request_time_microseconds"));
  assert.ok(
    received.metrics.some((m) =>
      m.name === "rely_server_request" && m.attributes.ret === "refused"
    ),
  );
  const span = received.spans.find((s) => s.name === "probe web")!;
  assert.equal(span.attributes["probe.type"], "http");
  assert.equal(span.attributes.code, "0");
  const failed = received.spans.find((s) => s.name === "probe gone")!;
  assert.equal(failed.status, 2, "a failed probe's span has status ERROR");
}

const OTLP_FAST = {
  OTLP_ENABLE: "1",
  OTLP_METRIC_EXPORT_INTERVAL_MILLIS: "300",
  OTLP_METRIC_EXPORT_TIMEOUT_MILLIS: "300",
  OTLP_TRACE_SCHEDULE_DELAY_MILLIS: "200",
  OTLP_TRACE_MAX_QUEUE_SIZE: "2048",
  OTLP_TRACE_MAX_EXPORT_BATCH_SIZE: "2048",
};

const TRANSPORTS = [
  {
    name: "gRPC",
    receiver: grpcReceiver,
    endpoint: (port: number) => `127.0.0.1:${port}`,
  },
  {
    name: "HTTP/protobuf",
    receiver: () => Promise.resolve(httpReceiver()),
    endpoint: (port: number) => `http://127.0.0.1:${port}`,
  },
];

for (const transport of TRANSPORTS) {
  Deno.test(`metrics and spans arrive, decodable, at an OTLP receiver over ${transport.name}`, async () => {
    await using dir = await tempDir();
    await using t = targets();
    const receiver = await transport.receiver();
    const agent = await startWithTargets(t.yaml, dir.path, {
      ...OTLP_FAST,
      OTLP_ENDPOINT: transport.endpoint(receiver.port),
      OTEL_EXPORTER_OTLP_HEADERS: "x-team=ops",
    });
    try {
      await waitFor(receiver, 10_000);
      assertOtlp(receiver);
      assert.equal(receiver.team, "ops", "OTEL_EXPORTER_OTLP_HEADERS reach the collector");
      agent.kill("SIGTERM");
      assert.equal((await agent.exit()).code, 0);
    } finally {
      await agent.close();
      await receiver.close();
    }
  });
}
