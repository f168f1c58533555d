import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";
import { locateNginx, startNginx } from "./support/nginx.ts";
import { serverTest } from "./support/servers.ts";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "nginx", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

const never = new AbortController().signal;

serverTest(
  "sse probe reads the workflow stream through nginx as the platform proxies it",
  locateNginx(),
  async (bin) => {
    const enc = new TextEncoder();
    const event = (content: string, finish: string | null) =>
      `data: ${
        JSON.stringify({
          code: 0,
          message: "Success",
          choices: [{ delta: { content }, finish_reason: finish }],
        })
      }\n\n`;
    const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      const body = new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(enc.encode(event("Hel", null)));
          await new Promise((r) => setTimeout(r, 30));
          c.enqueue(enc.encode(event("lo", null)));
          c.enqueue(enc.encode(event("", "stop")));
          c.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    });
    try {
      await using nginx = await startNginx(bin, {
        locations: `
    location /workflow/v1/chat/completions {
      proxy_pass http://127.0.0.1:${upstream.addr.port};
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_cache off;
      add_header X-Accel-Buffering no;
      proxy_read_timeout 1800s;
    }`,
      });
      const r = await PROBES.sse(
        probeConfig({
          type: "sse",
          url: `${nginx.origin}/workflow/v1/chat/completions`,
          body: '{"flow_id":"1","stream":true}',
          expect: { first_event_within: "1s" },
        }),
        { signal: AbortSignal.timeout(5000) },
      );
      assert.equal(r.reason, undefined);
      assert.equal(r.ok, true);
      assert.equal(r.events, 3);
      assert.ok(r.phases.total - r.phases.first_event! >= 25, JSON.stringify(r.phases));
    } finally {
      await upstream.shutdown();
    }
  },
);

serverTest(
  "http probe of Debian's nginx sees /nginx-health as the platform serves it",
  locateNginx(),
  async (bin, t) => {
    await using nginx = await startNginx(bin);
    const url = `${nginx.origin}/nginx-health`;

    await t.step("up: 200 and the body contains healthy", async () => {
      const r = await PROBES.http(
        probeConfig({
          type: "http",
          url,
          expect: { status: [200], body_contains: "healthy", max_latency: "500ms" },
        }),
        { signal: never },
      );
      assert.equal(r.reason, undefined);
      assert.equal(r.ok, true);
      assert.equal(r.status, 200);
      const { connect, first_byte, total } = r.phases;
      assert.ok(connect! <= first_byte! && first_byte! <= total, JSON.stringify(r.phases));
    });

    await t.step("down: another path is nginx's 404", async () => {
      const r = await PROBES.http(
        probeConfig({ type: "http", url: `${nginx.origin}/health/ready` }),
        { signal: never },
      );
      assert.equal(r.ok, false);
      assert.equal(r.status, 404);
      assert.equal(r.reason, "status 404, expected 2xx/3xx");
    });
  },
);
