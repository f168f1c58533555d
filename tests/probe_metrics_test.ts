import assert from "node:assert/strict";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PlatformMetrics } from "../src/metrics/meter.ts";
import { PullMetricReader, scrape } from "../src/metrics/prometheus.ts";
import { ProbeBoard } from "../src/probe/board.ts";
import { ProbeMetrics } from "../src/probe/metrics.ts";
import { PROBES } from "../src/probe/registry.ts";
import { runProbe } from "../src/probe/scheduler.ts";
import { freePort } from "./support/servers.ts";

const LABELS = { dc: "hf", server_host: "10.0.0.7", server_name: "watch", pid: 42 };

Deno.test("the ret label comes from the run's code, whatever its reason says", async (t) => {
  // Answers whose reasons mention "timed out" and "refused": a label read
  // from the reason would say timeout or refused; the code says body and status.
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/refused") return new Response("connection refused upstream", { status: 502 });
    return Response.json({ status: "upstream timed out" });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const closed = freePort();
  const yaml = `probes:
  - { name: up, type: http, url: "${origin}/" }
  - { name: body, type: http, url: "${origin}/", expect: { json: { status: UP } } }
  - { name: gateway, type: http, url: "${origin}/refused" }
  - { name: closed, type: tcp, kind: rely, target: "127.0.0.1:${closed}" }
`;
  const parsed = parseConfigText(yaml, {});
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const reader = new PullMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const board = new ProbeBoard();
  board.sync(parsed.config.probes);
  const metrics = new ProbeMetrics(new PlatformMetrics({ provider, labels: LABELS }), board);
  const run = async (config: ProbeConfig) => {
    const done = metrics.start(config);
    const result = await runProbe(PROBES[config.type], config);
    done(result);
    board.record(config.name, result);
    return result;
  };
  const [up, body, gateway, closedProbe] = parsed.config.probes;
  try {
    const cases = [
      { config: up, code: "ok", counter: "server_request_total", ret: "0" },
      { config: body, code: "body", counter: "server_request_total", ret: "body" },
      { config: gateway, code: "status", counter: "server_request_total", ret: "502" },
      {
        config: closedProbe,
        code: "refused",
        counter: "rely_server_request_total",
        ret: "refused",
      },
    ];
    for (const c of cases) {
      await t.step(`${c.config.name}: code ${c.code}, ret="${c.ret}"`, async () => {
        const result = await run(c.config);
        assert.equal(result.code, c.code, result.reason ?? "");
        const text = await scrape(reader);
        assert.match(
          text,
          new RegExp(
            `^${c.counter}\\{[^}]*probe="${c.config.name}"[^}]*ret="${c.ret}"\\} 1$`,
            "m",
          ),
          text,
        );
      });
    }
    const text = await scrape(reader);
    assert.doesNotMatch(text, /ret="(timeout|error)"/);
    assert.match(text, /^probe_success\{probe="up",[^}]*\} 1$/m);
    assert.match(text, /^probe_success\{probe="body",[^}]*\} 0$/m);
    assert.match(text, /^probe_http_status_code\{probe="gateway",[^}]*\} 502$/m);
  } finally {
    await provider.shutdown();
  }
});
