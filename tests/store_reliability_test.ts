/**
 * Reliability of the store on a real PostgreSQL, with faults injected by a
 * TCP proxy in front of it (refused, hanging) and refusals by a trigger the
 * test installs: a record the database refuses never blocks the others,
 * writes never wait on a database that hangs, and the store starts while
 * the database is unreachable. After each fault every acknowledged record
 * is present exactly once.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { serverTest } from "./support/servers.ts";
import { TcpProxy } from "./support/tcp_proxy.ts";
import { type Answer, serveTraces, type TraceServer } from "./fixtures/trace_server.ts";
import { smallRun } from "./fixtures/workflow.ts";
import { openTestStore } from "./fixtures/store.ts";
import { StoreUnavailableError } from "../src/store/store.ts";
import { keepRunning } from "../src/uncaught.ts";
import { openPostgres } from "../src/store/postgres/backend.ts";
import { sql } from "kysely";
import { cli, spawnAgent, tempDir } from "./support/agent.ts";

const pg = locatePostgres();
// As the agent does (src/cli/run.ts): postgres.js can throw from a timer when
// a connection is cut mid-write; the process must keep running.
const caught: unknown[] = [];
keepRunning((e) => caught.push(e));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function proxyFor(url: string): TcpProxy {
  const u = new URL(url);
  return TcpProxy.start({ hostname: u.hostname, port: Number(u.port || 5432) });
}

/** Make the database refuse runs whose sid starts with `poison`, as it would a value it cannot hold. */
async function refusePoison(url: string, on: boolean): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    if (on) {
      await sql.unsafe(`
        CREATE OR REPLACE FUNCTION aw_refuse() RETURNS trigger AS $$
        BEGIN
          IF NEW.sid LIKE 'poison%' THEN RAISE EXCEPTION 'refused by the test trigger: %', NEW.sid; END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER aw_refuse BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION aw_refuse();
      `);
    } else {
      await sql.unsafe(`DROP TRIGGER aw_refuse ON runs`);
    }
  } finally {
    await sql.end();
  }
}

/** How many rows and distinct sids the runs table holds for sids starting with `prefix`. */
async function stored(url: string, prefix: string): Promise<{ rows: number; sids: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [r] = await sql`SELECT count(*)::int AS rows, count(DISTINCT sid)::int AS sids
      FROM runs WHERE sid LIKE ${prefix + "%"}`;
    return { rows: r.rows, sids: r.sids };
  } finally {
    await sql.end();
  }
}

function runs(prefix: string, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => smallRun(from + i, { sid: `${prefix}${from + i}` }));
}

function post(api: TraceServer, body: unknown): Promise<Answer> {
  return api.call("/api/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function waitReady(api: { store: { readiness(): string | undefined } }, ms = 20_000) {
  const until = Date.now() + ms;
  while (api.store.readiness() !== undefined) {
    if (Date.now() > until) throw new Error(`still ${api.store.readiness()} after ${ms} ms`);
    await sleep(20);
  }
}

serverTest(
  "a spooled record the database refuses goes to the dead-letter file; the rest flows, and it replays after a fix",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    await using proxy = proxyFor(db.url);
    await using api = await serveTraces({ url: proxy.url(db.url), store: { replayInterval: 50 } });
    await refusePoison(db.url, true);

    await proxy.set("down");
    const poison = { sid: "poison-1", start_time: Date.now(), status: { code: 1e300 } };
    const first = await post(api, poison);
    assert.equal(first.status, 202, first.text);
    assert.equal(first.json.spooled, 1);
    for (let b = 0; b < 3; b++) {
      const r = await post(api, runs("good-", b * 50, 50));
      assert.equal(r.json.spooled, 50, r.text);
    }
    assert.match(api.store.readiness() ?? "", /database unreachable, 151 records spooled/);

    await proxy.set("pass");
    await waitReady(api);
    assert.deepEqual(await stored(db.url, "good-"), { rows: 150, sids: 150 });
    assert.deepEqual(await stored(db.url, "poison"), { rows: 0, sids: 0 });
    assert.equal(api.store.stats().dead_letters, 1);
    const letters = await api.store.deadLetters.list();
    assert.equal(letters.length, 1);
    assert.equal(letters[0].run?.record.sid, "poison-1");
    assert.match(letters[0].error, /refused by the test trigger: poison-1/);

    // New writes flow straight to the database again.
    const after = await post(api, runs("good-", 150, 5));
    assert.equal(after.json.stored, 5, after.text);

    // The shell lists it; once the cause is fixed, it replays it, once.
    const config = `${api.dir}/c.yaml`;
    await Deno.writeTextFile(
      config,
      `store:\n  url: ${db.url}\n  blob_dir: ${api.config.blob_dir}\n`,
    );
    const listed = await cli(["traces", "dead-letters", "list", "--config", config]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /poison-1 +refused by the test trigger/);
    const early = await cli(["traces", "dead-letters", "replay", "--config", config]);
    assert.equal(early.code, 1);
    assert.match(early.stdout, /0 stored, 1 still refused/);
    await refusePoison(db.url, false);
    const replayed = await cli(["traces", "dead-letters", "replay", "--config", config]);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /1 stored, 0 still refused/);
    assert.equal(await api.store.deadLetters.refresh(), 0);
    assert.deepEqual(await stored(db.url, "poison"), { rows: 1, sids: 1 });
    assert.deepEqual(await stored(db.url, "good-"), { rows: 155, sids: 155 });
  },
);

serverTest(
  "with the database up, a record it refuses is named alone and the others in the request are stored",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    await using api = await serveTraces({ url: db.url });
    await refusePoison(db.url, true);
    const body = runs("batch-", 0, 6);
    body[3] = { ...body[3], sid: "poison-2" };
    const r = await post(api, body);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.accepted, 5);
    assert.equal(r.json.stored, 5);
    assert.equal(r.json.rejected, 1);
    assert.equal(r.json.errors.length, 1);
    assert.equal(r.json.errors[0].index, 3);
    assert.equal(r.json.errors[0].sid, "poison-2");
    assert.match(r.json.errors[0].error, /refused by the test trigger/);
    assert.deepEqual(await stored(db.url, "batch-"), { rows: 5, sids: 5 });
    assert.equal(api.store.stats().records.refused, 1);
  },
);

serverTest(
  "while the database hangs, posts are spooled and answered without waiting for it",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    await using proxy = proxyFor(db.url);
    await using api = await serveTraces({ url: proxy.url(db.url), store: { replayInterval: 50 } });
    assert.equal((await post(api, runs("hang-", 0, 10))).json.stored, 10);

    await proxy.set("hang");
    // The first write finds the database gone (it waits for the connect timeout).
    const first = await post(api, runs("hang-", 10, 10));
    assert.equal(first.status, 202, first.text);
    assert.equal(first.json.spooled, 10);
    // A replay attempt is now waiting on a connection the database never answers...
    await proxy.waitHeld(1);
    const waiting = [...proxy.held];
    const times: number[] = [];
    for (let b = 0; b < 40; b++) {
      const t = performance.now();
      const r = await post(api, runs("hang-", 20 + b * 5, 5));
      times.push(performance.now() - t);
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json.spooled, 5);
    }
    // ...and every post was answered while it still waited: none queued behind it.
    assert.ok(
      waiting.some((c) => proxy.held.has(c)),
      "the posts waited until the hanging database call gave up",
    );
    times.sort((a, b) => a - b);
    console.log(
      `POST during a hanging database: p50 ${times[20].toFixed(1)} ms, p99 ${
        times[39].toFixed(1)
      } ms`,
    );

    await proxy.set("pass");
    await waitReady(api);
    assert.deepEqual(await stored(db.url, "hang-"), { rows: 220, sids: 220 });
  },
);

serverTest(
  "the store starts while the database is unreachable, spools, and migrates when it answers",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    await using proxy = proxyFor(db.url);
    await proxy.set("down");
    await using ts = await openTestStore(proxy.url(db.url), {}, { replayInterval: 50 });
    assert.match(ts.store.readiness() ?? "", /^degraded: database unreachable, 0 records spooled$/);
    await assert.rejects(() => ts.store.listRuns({ limit: 10 }), StoreUnavailableError);
    const r = await ts.store.ingestRuns(runs("late-", 0, 7));
    assert.equal(r.spooled, 7);

    await proxy.set("pass");
    await waitReady(ts);
    assert.deepEqual(await stored(db.url, "late-"), { rows: 7, sids: 7 });
    assert.equal((await ts.store.listRuns({ limit: 10 })).runs.length, 7);
  },
);

serverTest(
  "the agent starts while PostgreSQL is unreachable: probes, API and spool work, and the store catches up when it answers",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    await using proxy = proxyFor(db.url);
    await proxy.set("down");
    await using dir = await tempDir();
    await Deno.writeTextFile(
      `${dir.path}/c.yaml`,
      `log:\n  stderr: always\nserver:\n  listen: 127.0.0.1:0\n  write_token: t0ken\n` +
        `  shutdown_timeout: 5s\nstore:\n  url: ${proxy.url(db.url)}\n`,
    );
    const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
    try {
      assert.equal(await (await agent.fetch("/healthz")).text(), "ok\n");
      const ready = await agent.fetch("/readyz");
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /store: degraded: database unreachable/);
      // The self-probe runs.
      await agent.waitForLine((l) => l.msg === "probe up");
      const posted = await agent.fetch("/api/v1/traces", {
        method: "POST",
        headers: { Authorization: "Bearer t0ken", "Content-Type": "application/json" },
        body: JSON.stringify(runs("early-", 0, 12)),
      });
      assert.equal(posted.status, 202);
      assert.equal((await posted.json()).spooled, 12);
      const list = await agent.fetch("/api/v1/traces");
      assert.equal(list.status, 503);
      await list.body?.cancel();

      await proxy.set("pass");
      await agent.waitForLine((l) => l.msg === "database reachable; schema migrated", 20_000);
      const until = Date.now() + 20_000;
      while ((await (await agent.fetch("/readyz")).text()) !== "ready\n") {
        assert.ok(Date.now() < until, "the agent did not become ready");
        await sleep(50);
      }
      assert.deepEqual(await stored(db.url, "early-"), { rows: 12, sids: 12 });
    } finally {
      agent.kill("SIGTERM");
      assert.equal((await agent.exit()).code, 0);
    }
  },
);

serverTest(
  "a COMMIT that finds no transaction (the driver reconnected under it) marks the write as lost",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    const backend = await openPostgres(db.url);
    try {
      const guard = backend.transactionGuard!();
      await sql`SELECT 1`.execute(backend.db);
      assert.equal(guard.lost(), false);
      // What the statements after a reconnect do: COMMIT on a session with no transaction.
      await sql`COMMIT`.execute(backend.db);
      assert.equal(guard.lost(), true);
      assert.equal(backend.transactionGuard!().lost(), false, "a new guard starts clean");
    } finally {
      await backend.close();
    }
  },
);

serverTest(
  "a write the database holds (a lock on the table) is spooled at the write deadline; nothing waits on it",
  pg,
  async (source) => {
    await using db = await testDatabase(source);
    await using api = await serveTraces({
      url: db.url,
      store: { replayInterval: 50, writeDeadline: 300 },
    });
    assert.equal((await post(api, runs("locked-", 0, 5))).json.stored, 5);
    // Another session holds the table: the next write cannot finish until it lets go.
    const holder = postgres(db.url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((r) => release = r);
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => locked = r);
    const holding = holder.begin(async (tx) => {
      await tx.unsafe("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE");
      locked();
      await released;
    });
    await isLocked;
    try {
      const r = await post(api, runs("locked-", 5, 10));
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json.spooled, 10, "answered from the spool while the lock was held");
      const more = await post(api, runs("locked-", 15, 10));
      assert.equal(more.json.spooled, 10);
      assert.match(api.store.readiness() ?? "", /database unreachable/);
    } finally {
      release();
      await holding;
      await holder.end();
    }
    await waitReady(api);
    assert.deepEqual(await stored(db.url, "locked-"), { rows: 25, sids: 25 });
  },
);
