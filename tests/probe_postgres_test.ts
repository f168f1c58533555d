import assert from "node:assert/strict";
import postgres from "postgres";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";
import { runWithDeadline } from "../src/probe/scheduler.ts";
import type { ProbeResult } from "../src/probe/types.ts";
import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { freePort, serverTest, tcpServer } from "./support/servers.ts";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "postgres", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

const never = new AbortController().signal;
const pg = locatePostgres();

function withCredentials(url: string, user: string, password: string, db?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  if (db) u.pathname = `/${db}`;
  return u.href;
}

serverTest("postgres probe runs SELECT 1 against a real PostgreSQL", pg, async (source, t) => {
  await using db = await testDatabase(source);

  await t.step("up, with connect and total", async () => {
    const r = await PROBES.postgres(probeConfig({ type: "postgres", kind: "rely", url: db.url }), {
      signal: never,
    });
    assert.equal(r.reason, undefined);
    assert.equal(r.ok, true);
    assert.equal(r.phases.dns, undefined);
    assert.ok(
      r.phases.connect! > 0 && r.phases.connect! <= r.phases.total,
      JSON.stringify(r.phases),
    );
  });

  await t.step("a database that does not exist is down with the server's message", async () => {
    const url = withCredentials(db.url, new URL(db.url).username, "", "no_such_db");
    const r = await PROBES.postgres(probeConfig({ type: "postgres", url }), { signal: never });
    assert.equal(r.ok, false);
    assert.match(r.reason!, /database "no_such_db" does not exist/);
  });

  // A role that must log in with a password (the throwaway cluster trusts
  // loopback, so its pg_hba.conf gets a scram line for this role first).
  const role = `aw_probe_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'right-secret'`);
    if ("bin" in source) {
      const [{ hba_file }] = await admin.unsafe("SHOW hba_file");
      const hba = await Deno.readTextFile(hba_file);
      await Deno.writeTextFile(hba_file, `host all ${role} 127.0.0.1/32 scram-sha-256\n${hba}`);
      await admin.unsafe("SELECT pg_reload_conf()");
    }
    const config = (password: string) =>
      probeConfig({ type: "postgres", url: withCredentials(db.url, role, password) });

    await t.step("the right password is up", async () => {
      const r = await PROBES.postgres(config("right-secret"), { signal: never });
      assert.equal(r.ok, true, r.reason ?? "");
    });

    await t.step("a bad password is down, without the password in the reason", async () => {
      let r = await PROBES.postgres(config("wrong-secret"), { signal: never });
      for (let i = 0; r.ok && i < 20; i++) { // the reload is asynchronous
        await new Promise((res) => setTimeout(res, 50));
        r = await PROBES.postgres(config("wrong-secret"), { signal: never });
      }
      if (r.ok) {
        console.log("  (this server trusts loopback logins: a bad password cannot fail here)");
        return;
      }
      assert.match(r.reason!, /password authentication failed for user "aw_probe_/);
      assert.equal(r.code, "auth");
      assert.ok(!r.reason!.includes("wrong-secret"));
    });
  } finally {
    await admin.unsafe(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await admin.end();
  }
});

Deno.test("postgres probe reports a closed port and a silent server", async (t) => {
  await t.step("refused", async () => {
    const port = freePort();
    const r = await PROBES.postgres(
      probeConfig({ type: "postgres", url: `postgres://u:secret@127.0.0.1:${port}/db` }),
      { signal: never },
    );
    assert.equal(r.ok, false);
    assert.match(r.reason!, new RegExp(`^connecting to 127\\.0\\.0\\.1:${port}: .*refused`, "i"));
    assert.equal(r.code, "refused");
  });

  await t.step("hangs up at once", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      const conn = await listener.accept();
      conn.close();
    })();
    try {
      const r = await PROBES.postgres(
        probeConfig({
          type: "postgres",
          url: `postgres://u:secret@127.0.0.1:${listener.addr.port}/db`,
        }),
        { signal: AbortSignal.timeout(2000) },
      );
      assert.equal(r.ok, false);
      assert.equal(r.reason, "the server closed the connection during startup");
      assert.equal(r.code, "reset");
    } finally {
      await serving;
      listener.close();
    }
  });

  await t.step("accepts and never answers: ends at the timeout, nothing left open", async () => {
    await using server = tcpServer("silent");
    const config = probeConfig({
      type: "postgres",
      url: `postgres://u:secret@127.0.0.1:${server.port}/db`,
      timeout: "300ms",
      interval: "1s",
    });
    let t0 = performance.now();
    const r = await PROBES.postgres(config, { signal: AbortSignal.timeout(300) });
    let took = performance.now() - t0;
    assert.equal(r.reason, "timed out in SELECT 1");
    assert.equal(r.code, "timeout");
    assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
    t0 = performance.now();
    let own!: Promise<ProbeResult>;
    const viaDeadline = await runWithDeadline(
      (signal) => own = PROBES.postgres(config, { signal }),
      300,
    );
    took = performance.now() - t0;
    assert.equal(viaDeadline.ok, false);
    assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
    // The deadline does not wait for the probe; its own cleanup ends soon after.
    assert.equal((await own).reason, "timed out in SELECT 1");
  });
});
