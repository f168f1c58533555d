/**
 * The API bounds what a client may hold: headers must arrive within
 * `server.header_timeout` (a slowloris client trickling bytes is cut off)
 * while the agent keeps serving others; the same holds for the `node:http`
 * engine that takes over where `Deno.serveHttp` is gone.
 */

import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { serveHttp } from "../src/api/http_server.ts";

const config = "log:\n  stderr: always\nserver:\n  listen: 127.0.0.1:0\n" +
  "  header_timeout: 1s\n  shutdown_timeout: 5s\nprobes: []\n";

/** Read until the server closes the connection; what it sent, or throw after `ms`. */
async function untilClosed(conn: Deno.Conn, ms: number): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  const buf = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<"open">((r) => timer = setTimeout(() => r("open"), ms));
  try {
    for (;;) {
      const n = await Promise.race([conn.read(buf).catch(() => null), limit]);
      if (n === "open") throw new Error(`connection still open after ${ms} ms; got ${text}`);
      if (n === null) return text;
      text += dec.decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Open a silent and a trickling client against `port`; resolve to what each got before being cut off. */
async function slowClients(port: number): Promise<[string, string]> {
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  const trickle = await Deno.connect({ hostname: "127.0.0.1", port });
  await silent.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  // One header byte every 100 ms: never idle, never done.
  let stop = false;
  const dribble = (async () => {
    const bytes = new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    await trickle.write(bytes);
    while (!stop) {
      await new Promise((r) => setTimeout(r, 100));
      if (!stop) await trickle.write(new TextEncoder().encode("a")).catch(() => stop = true);
    }
  })();
  const [a, b] = await Promise.all([untilClosed(silent, 15_000), untilClosed(trickle, 15_000)]);
  stop = true;
  await dribble;
  silent.close();
  trickle.close();
  return [a, b];
}

Deno.test("a client that trickles its headers is cut off after header_timeout; the agent serves others", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/c.yaml`, config);
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  try {
    const [a, b] = await slowClients(agent.port);
    // Closed without an answer (hyper) or with 408: either way, not held.
    assert.match(a, /^(|HTTP\/1\.1 408[^]*)$/);
    assert.match(b, /^(|HTTP\/1\.1 408[^]*)$/);
    // Everyone else is still served.
    const res = await agent.fetch("/healthz");
    assert.equal(await res.text(), "ok\n");
  } finally {
    agent.kill("SIGTERM");
    assert.equal((await agent.exit()).code, 0);
  }
});

Deno.test("the node:http engine answers a slow client 408 after the header timeout", async () => {
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeout: 500,
    requestTimeout: 5_000,
    onError: () => new Response("error", { status: 500 }),
    engine: "node",
  }, () => new Response("ok\n"));
  try {
    const [a, b] = await slowClients(server.addr.port);
    assert.match(a, /^HTTP\/1\.1 408/);
    assert.match(b, /^HTTP\/1\.1 408/);
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await res.text(), "ok\n");
  } finally {
    await server.shutdown();
  }
});
