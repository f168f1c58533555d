import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";
import { runWithDeadline } from "../src/probe/scheduler.ts";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(
    JSON.stringify({ probes: [{ name: "workflow-stream", ...probe }] }),
    {},
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = new AbortController().signal;

/** One event as core-workflow frames it. */
function frame(
  content: string,
  finish: string | null = null,
  code = 0,
  message = "Success",
): string {
  const event = {
    code,
    message,
    id: "spxf2b1a8e0@hf1",
    created: 1718000000,
    choices: [{ delta: { role: "assistant", content }, index: 0, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(event)}\n\n`;
}

type Script = (send: (text: string) => void, signal: AbortSignal) => Promise<void>;

/** The workflow route: POST only, Bearer token checked, the body echoed into the first event. */
function streamingServer(scripts: Record<string, Script>) {
  const enc = new TextEncoder();
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "POST") return new Response("method", { status: 405 });
    if (req.headers.get("authorization") !== "Bearer key") {
      return Response.json({ code: 10001, message: "invalid api key" }, { status: 401 });
    }
    const body = await req.json().catch(() => null);
    if (body?.flow_id !== "7251" || body?.stream !== true) {
      return Response.json({ code: 20001, message: "bad request body" });
    }
    const script = scripts[path];
    if (!script) return new Response("not found", { status: 404 });
    const done = new AbortController();
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        try {
          await script((t) => c.enqueue(enc.encode(t)), done.signal);
          c.close();
        } catch {
          // the client went away
        }
      },
      cancel() {
        done.abort();
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
    });
  });
}

/** Wait `ms`, or less when the client goes away. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

const scripts: Record<string, Script> = {
  // A comment at once (the first byte), the first event 60 ms later, then the rest.
  "/ok": async (send, signal) => {
    send(": connected\n\n");
    await wait(60, signal);
    send(frame("Hel"));
    await sleep(5);
    send(frame("lo"));
    send(frame("", "stop"));
  },
  "/error": async (send) => {
    send(frame("partial"));
    await sleep(5);
    send(frame("", null, 20204, "workflow node execution failed"));
  },
  "/stall": async (send, signal) => {
    send(frame("first and last"));
    await wait(5000, signal);
  },
  "/late": async (send, signal) => {
    await wait(300, signal);
    send(frame("", "stop"));
  },
  "/unfinished": (send) => {
    send(frame("one"));
    send(frame("two"));
    return Promise.resolve();
  },
  "/crlf": (send) => {
    send(
      `data: {"code":0,"message":"Success",\r\ndata: "choices":[{"finish_reason":"stop"}]}\r\n\r\n`,
    );
    return Promise.resolve();
  },
};

const headers = { Authorization: "Bearer key" };
const body = '{"flow_id":"7251","stream":true,"parameters":{"AGENT_USER_INPUT":"ping"}}';

Deno.test("sse probe reads the workflow stream and times the first event", async (t) => {
  await using server = streamingServer(scripts);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const config = (path: string, extra: Record<string, unknown> = {}) =>
    probeConfig({ type: "sse", url: `${origin}${path}`, headers, body, timeout: "2s", ...extra });

  await t.step(
    "a stream that finishes with stop is up; first event is not first byte",
    async () => {
      const r = await PROBES.sse(config("/ok", { expect: { first_event_within: "1s" } }), {
        signal: never,
      });
      assert.equal(r.reason, undefined);
      assert.equal(r.ok, true);
      assert.equal(r.status, 200);
      assert.equal(r.events, 3);
      const { connect, first_byte, first_event, total } = r.phases;
      assert.ok(connect! <= first_byte! && first_byte! <= first_event! && first_event! <= total);
      assert.ok(first_event! - first_byte! >= 45, JSON.stringify(r.phases));
    },
  );

  await t.step("an error event fails with its code and message", async () => {
    const r = await PROBES.sse(config("/error"), { signal: never });
    assert.equal(r.ok, false);
    assert.equal(r.reason, "error event (event 2) code 20204: workflow node execution failed");
    assert.equal(r.code, "stream");
    assert.equal(r.events, 2);
  });

  await t.step("a stream that ends without stop fails", async () => {
    const r = await PROBES.sse(config("/unfinished"), { signal: never });
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'the stream ended after 2 events without finish_reason "stop"');
    assert.equal(r.code, "stream");
  });

  await t.step("multi-line data and CRLF line ends make one event", async () => {
    const r = await PROBES.sse(config("/crlf"), { signal: never });
    assert.equal(r.ok, true, r.reason ?? "");
    assert.equal(r.events, 1);
  });

  await t.step("no event within first_event_within fails at that limit", async () => {
    const r = await PROBES.sse(config("/late", { expect: { first_event_within: "100ms" } }), {
      signal: never,
    });
    assert.equal(r.ok, false);
    assert.equal(r.reason, "no event within first_event_within 100ms");
    assert.equal(r.code, "latency");
  });

  await t.step("a stream that stalls after its first event ends at the timeout", async () => {
    const t0 = performance.now();
    const r = await PROBES.sse(config("/stall"), { signal: AbortSignal.timeout(300) });
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'timed out after 1 event, before finish_reason "stop"');
    assert.equal(r.code, "timeout");
    assert.equal(typeof r.phases.first_event, "number");
    assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
  });

  await t.step("... and under the scheduler's deadline too", async () => {
    const c = config("/stall", { timeout: "300ms", interval: "1s" });
    const t0 = performance.now();
    const r = await runWithDeadline((signal) => PROBES.sse(c, { signal }), c.timeout);
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
  });

  await t.step("a refused API key is a status failure, with the answer", async () => {
    const r = await PROBES.sse(
      probeConfig({
        type: "sse",
        url: `${origin}/ok`,
        headers: { Authorization: "Bearer nope" },
        body,
      }),
      { signal: never },
    );
    assert.equal(r.ok, false);
    assert.equal(r.status, 401);
    assert.equal(r.code, "status");
    assert.equal(r.reason, 'status 401, expected 200: {"code":10001,"message":"invalid api key"}');
  });

  await t.step("a JSON answer instead of a stream fails", async () => {
    const r = await PROBES.sse(
      probeConfig({ type: "sse", url: `${origin}/ok`, headers, body: '{"flow_id":"0"}' }),
      { signal: never },
    );
    assert.equal(r.ok, false);
    assert.equal(
      r.reason,
      'content-type "application/json", not text/event-stream: {"code":20001,"message":"bad request body"}',
    );
    assert.equal(r.code, "body");
  });
});
