import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "mysql", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

const never = new AbortController().signal;

/** MySQL's greeting: a binary packet with the server version inside. */
function mysqlGreeting(version: string): Uint8Array {
  const payload = [0x0a, ...new TextEncoder().encode(version), 0x00, 0x08, 0x00, 0x00, 0x00];
  payload.push(...new TextEncoder().encode("abcdefgh"), 0x00, 0xff, 0xf7, 0xff, 0x02);
  return new Uint8Array([payload.length, 0, 0, 0, ...payload]);
}

/** A TCP server that plays `script` on each connection. */
function tcpServer(script: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(
        script(conn).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // closed by the script
          }
        }),
      );
    }
  })();
  return {
    target: `127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(conns);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

Deno.test("tcp probe connects and reads banners", async (t) => {
  await t.step("a plain connect is up with connect and total", async () => {
    await using server = tcpServer(async () => {});
    const r = await PROBES.tcp(probeConfig({ type: "tcp", target: server.target }), {
      signal: never,
    });
    assert.equal(r.ok, true, r.reason ?? "");
    assert.equal(r.code, "ok");
    assert.ok(r.phases.connect! <= r.phases.total);
    assert.equal(r.phases.dns, undefined);
  });

  await t.step("MySQL's binary greeting holds the expected version", async () => {
    await using server = tcpServer(async (conn) => {
      await conn.write(mysqlGreeting("8.0.36"));
      await sleep(50);
    });
    const r = await PROBES.tcp(
      probeConfig({ type: "tcp", target: server.target, expect: { banner: "8.0.36" } }),
      { signal: never },
    );
    assert.equal(r.ok, true, r.reason ?? "");
    assert.ok(r.phases.connect! <= r.phases.first_byte! && r.phases.first_byte! <= r.phases.total);
  });

  await t.step("a banner split across packets is still seen", async () => {
    await using server = tcpServer(async (conn) => {
      await conn.write(new TextEncoder().encode("220 mail.example ES"));
      await sleep(30);
      await conn.write(new TextEncoder().encode("MTP ready\r\n"));
      await sleep(50);
    });
    const r = await PROBES.tcp(
      probeConfig({ type: "tcp", target: server.target, expect: { banner: "ESMTP" } }),
      { signal: never },
    );
    assert.equal(r.ok, true, r.reason ?? "");
    assert.ok(r.phases.total >= 25);
  });

  await t.step("a different banner, then a hang-up, is down with what was seen", async () => {
    await using server = tcpServer(async (conn) => {
      await conn.write(mysqlGreeting("5.7.44"));
    });
    const r = await PROBES.tcp(
      probeConfig({ type: "tcp", target: server.target, expect: { banner: "8.0" } }),
      { signal: never },
    );
    assert.equal(r.ok, false);
    assert.equal(r.code, "banner");
    assert.match(
      r.reason!,
      /^closed before banner "8\.0"; got "\\x..\\x00\\x00\\x00\\x0a5\.7\.44\\x00/,
    );
  });

  await t.step("a silent server is down at the deadline", async () => {
    await using server = tcpServer(async (conn) => {
      await conn.read(new Uint8Array(16)); // until the probe hangs up
    });
    const t0 = performance.now();
    const r = await PROBES.tcp(
      probeConfig({ type: "tcp", target: server.target, expect: { banner: "8.0" } }),
      { signal: AbortSignal.timeout(200) },
    );
    const took = performance.now() - t0;
    assert.equal(r.reason, 'timed out waiting for banner "8.0"; nothing received');
    assert.equal(r.code, "timeout");
    assert.ok(took >= 195, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
  });
});
