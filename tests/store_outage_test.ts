/**
 * Outage safety: PostgreSQL stopped for 6 s in the middle of a 5,000-record
 * ingest over HTTP; after it returns, all 5,000 are stored exactly once, and
 * the posts during the outage were answered from the spool (their latency is
 * printed). Needs a throwaway cluster it may stop and start (initdb/pg_ctl
 * on this machine).
 */

import assert from "node:assert/strict";
import { startCluster, stopCluster } from "./support/postgres.ts";
import { type Availability, run, serverTest, which } from "./support/servers.ts";
import { serveTraces } from "./fixtures/trace_server.ts";
import { smallRun } from "./fixtures/workflow.ts";

function pgBin(): Availability<string> {
  const onPath = which("pg_ctl");
  if (onPath && which("initdb")) return { ok: true, value: onPath.replace(/\/pg_ctl$/, "") };
  try {
    for (
      const v of [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort().reverse()
    ) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (which("pg_ctl", [dir]) && which("initdb", [dir])) return { ok: true, value: dir };
    }
  } catch {
    // no Debian PostgreSQL
  }
  return { ok: false, reason: "no initdb/pg_ctl to run a cluster that can be stopped" };
}

/** Start the stopped cluster in `dir` again on its old port. */
async function restartCluster(bin: string, dir: string, port: string): Promise<void> {
  const opts =
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`;
  const args = ["-D", dir, "-o", opts, "-l", `${dir}/server.log`, "-w", "start"];
  if (Deno.uid() === 0) await run("runuser", ["-u", "postgres", "--", `${bin}/pg_ctl`, ...args]);
  else await run(`${bin}/pg_ctl`, args);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

serverTest(
  "PostgreSQL stopped for 6 s during a 5,000-record ingest: all 5,000 stored exactly once",
  pgBin(),
  async (bin) => {
    const dir = await Deno.makeTempDir({ prefix: "astron-watch-pg-outage-" });
    let running = false;
    try {
      const url = await startCluster(bin, dir);
      running = true;
      const port = new URL(url).port;
      await using api = await serveTraces({ url, store: { replayInterval: 250 } });
      const total = 5000;
      const perBatch = 50;
      const batches = total / perBatch;
      let spooled = 0;
      const answers: unknown[] = [];
      const outageTimes: number[] = [];
      const outageMs = 6_000;
      const post = async (b: number) => {
        const runs = Array.from(
          { length: perBatch },
          (_, i) => smallRun(b * perBatch + i, { sid: `outage-${b * perBatch + i}`, nodes: 3 }),
        );
        const res = await api.call("/api/v1/traces", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(runs),
        });
        answers[b] = res.json;
        assert.equal(res.status, 202, res.text);
        assert.equal(res.json.accepted, perBatch);
        spooled += res.json.spooled;
      };
      const outageFrom = 30;
      const outageTo = 70;
      for (let b = 0; b < outageFrom; b++) await post(b);
      await stopCluster(bin, dir);
      running = false;
      const downAt = Date.now();
      for (let b = outageFrom; b < outageTo; b++) {
        const t = performance.now();
        await post(b);
        outageTimes.push(performance.now() - t);
        if (b === outageFrom) {
          assert.match(
            api.store.readiness() ?? "",
            /^degraded: database unreachable, \d+ records spooled$/,
          );
        }
        // Spread the outage's batches over it.
        await sleep(
          Math.max(
            0,
            downAt + ((b - outageFrom + 1) * outageMs) / (outageTo - outageFrom) - Date.now(),
          ),
        );
      }
      outageTimes.sort((a, b) => a - b);
      const at = (q: number) => outageTimes[Math.ceil(q * outageTimes.length) - 1].toFixed(1);
      console.log(
        `POST of 50 runs while PostgreSQL is stopped: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
      );
      await restartCluster(bin, dir, port);
      running = true;
      for (let b = outageTo; b < batches; b++) await post(b);
      assert.ok(spooled >= (outageTo - outageFrom) * perBatch, `spooled ${spooled}`);
      const until = Date.now() + 20_000;
      while (api.store.readiness() !== undefined && Date.now() < until) await sleep(100);
      assert.equal(api.store.readiness(), undefined);
      const db = api.store.backend.db;
      const runs = await db.selectFrom("runs").select((eb) => [
        eb.fn.countAll().as("n"),
        eb.fn.count("sid").distinct().as("d"),
      ]).where("sid", "like", "outage-%").executeTakeFirstOrThrow();
      const letters = await api.store.deadLetters.list();
      assert.deepEqual(letters.map((l) => l.error), [], "nothing dead-lettered");
      if (Number(runs.n) !== total) {
        const have = new Set(
          (await db.selectFrom("runs").select("sid").where("sid", "like", "outage-%").execute())
            .map((r) => r.sid),
        );
        const missing = new Set<number>();
        for (let i = 0; i < total; i++) {
          if (!have.has(`outage-${i}`)) missing.add(Math.floor(i / perBatch));
        }
        console.log(
          "missing batches",
          [...missing],
          "answers",
          JSON.stringify(answers.filter((_, b) => missing.has(b))),
        );
      }
      assert.equal(Number(runs.n), total);
      assert.equal(Number(runs.d), total);
      const nodes = await db.selectFrom("nodes").select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(Number(nodes.n), total * 3);
    } finally {
      if (running) await stopCluster(bin, dir).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
