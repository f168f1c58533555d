import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";
import { runWithDeadline } from "../src/probe/scheduler.ts";
import { locateRedis, startRedis } from "./support/redis.ts";
import { freePort, serverTest, tcpServer } from "./support/servers.ts";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "redis", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

const never = new AbortController().signal;

serverTest("redis probe AUTHs and PINGs a real redis-server", locateRedis(), async (source, t) => {
  await using redis = await startRedis(source);

  await t.step("the right password is up", async () => {
    const r = await PROBES.redis(
      probeConfig({ type: "redis", kind: "rely", target: redis.target, password: redis.password }),
      { signal: never },
    );
    assert.equal(r.reason, undefined);
    assert.equal(r.ok, true);
    assert.equal(r.code, "ok");
    const { connect, first_byte, total } = r.phases;
    assert.ok(connect! <= first_byte! && first_byte! <= total, JSON.stringify(r.phases));
  });

  await t.step(
    "a wrong password is down, with the server's reason and not the password",
    async () => {
      const r = await PROBES.redis(
        probeConfig({ type: "redis", target: redis.target, password: "not-the-secret" }),
        { signal: never },
      );
      assert.equal(r.ok, false);
      assert.match(r.reason!, /^AUTH failed: WRONGPASS /);
      assert.equal(r.code, "auth");
      assert.ok(!r.reason!.includes("not-the-secret"));
    },
  );

  await t.step("no password is down with NOAUTH", async () => {
    const r = await PROBES.redis(probeConfig({ type: "redis", target: redis.target }), {
      signal: never,
    });
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^PING failed: NOAUTH /);
    assert.equal(r.code, "auth");
  });
});

Deno.test("redis probe reports a closed port and a silent server", async (t) => {
  await t.step("refused", async () => {
    const port = freePort();
    const r = await PROBES.redis(probeConfig({ type: "redis", target: `127.0.0.1:${port}` }), {
      signal: never,
    });
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^connecting to 127\.0\.0\.1:\d+: .*refused/i);
    assert.equal(r.code, "refused");
  });

  await t.step("accepts and never answers: ends at the timeout", async () => {
    await using server = tcpServer("silent");
    const config = probeConfig({
      type: "redis",
      target: `127.0.0.1:${server.port}`,
      password: "x",
      timeout: "200ms",
      interval: "1s",
    });
    const t0 = performance.now();
    const r = await PROBES.redis(config, { signal: AbortSignal.timeout(200) });
    assert.equal(r.reason, "timed out waiting for the AUTH reply");
    assert.equal(r.code, "timeout");
    const viaDeadline = await runWithDeadline((signal) => PROBES.redis(config, { signal }), 200);
    assert.equal(viaDeadline.ok, false);
    const took = performance.now() - t0;
    assert.ok(took >= 395, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
  });

  await t.step("a server that is not Redis", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      const conn = await listener.accept();
      await conn.read(new Uint8Array(1024));
      await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
      conn.close();
    })();
    try {
      const r = await PROBES.redis(
        probeConfig({ type: "redis", target: `127.0.0.1:${listener.addr.port}` }),
        { signal: never },
      );
      assert.equal(r.reason, 'PING failed: unexpected reply "HTTP/1.1 400 Bad Request"');
      assert.equal(r.code, "protocol");
    } finally {
      await serving;
      listener.close();
    }
  });
});
