/**
 * A full disk under the store is visible and survived: ingest answers 507
 * naming the cause, `/readyz` and `/metrics` say so, the agent keeps
 * serving, and once space is freed writes flow again. Every acknowledged
 * record is in the store exactly once. Needs root to mount a small tmpfs.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { serverTest, tmpfsAvailable } from "./support/servers.ts";
import { smallRun } from "./fixtures/workflow.ts";

const tmpfs = tmpfsAvailable;

async function mountTmpfs(dir: string, size: string): Promise<void> {
  const m = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  })
    .output();
  if (!m.success) throw new Error(`mount failed: ${new TextDecoder().decode(m.stderr)}`);
}

serverTest(
  "a full disk under the store: ingest answers 507 naming it, readiness and metrics say so, and writes resume once space is freed",
  tmpfs(),
  async () => {
    await using dir = await tempDir();
    const disk = `${dir.path}/disk`;
    await Deno.mkdir(disk);
    await mountTmpfs(disk, "4m");
    try {
      // Space to give back later.
      await Deno.writeFile(`${disk}/filler`, new Uint8Array(1024 * 1024));
      await Deno.writeTextFile(
        `${dir.path}/c.yaml`,
        `log:\n  dir: ${dir.path}/logs\n  stderr: always\n` +
          `server:\n  listen: 127.0.0.1:0\n  write_token: t0ken\n  shutdown_timeout: 5s\n` +
          `store:\n  url: sqlite:${disk}/traces.db\n  blob_dir: ${disk}/blobs\nprobes: []\n`,
      );
      const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
      const acknowledged: string[] = [];
      let n = 0;
      const post = async () => {
        const runs = Array.from(
          { length: 100 },
          () => smallRun(n, { sid: `full-${n++}`, nodes: 5 }),
        );
        const res = await agent.fetch("/api/v1/traces", {
          method: "POST",
          headers: { Authorization: "Bearer t0ken", "Content-Type": "application/json" },
          body: JSON.stringify(runs),
        });
        const body = await res.json();
        if (res.status === 202) acknowledged.push(...runs.map((r) => r.sid));
        return { status: res.status, body, retryAfter: res.headers.get("retry-after") };
      };
      try {
        let last = await post();
        for (let i = 0; i < 400 && last.status === 202; i++) last = await post();
        assert.equal(last.status, 507, JSON.stringify(last.body));
        assert.equal(last.body.error.code, "insufficient_storage");
        assert.match(last.body.error.message, /disk is full/);
        assert.ok(last.retryAfter, "507 carries Retry-After");

        const ready = await agent.fetch("/readyz");
        assert.equal(ready.status, 503);
        assert.match(await ready.text(), /store: disk full/);
        const metrics = await (await agent.fetch("/metrics")).text();
        assert.match(metrics, /^astron_watch_store_disk_full(\{[^}]*\})? 1$/m);
        assert.equal(await (await agent.fetch("/healthz")).text(), "ok\n");

        await Deno.remove(`${disk}/filler`);
        let again = await post();
        for (let i = 0; i < 20 && again.status !== 202; i++) again = await post();
        assert.equal(again.status, 202, JSON.stringify(again.body));
        const until = Date.now() + 15_000;
        while ((await (await agent.fetch("/readyz")).text()) !== "ready\n") {
          assert.ok(Date.now() < until, "readiness did not recover");
          await new Promise((r) => setTimeout(r, 50));
        }
        const after = await (await agent.fetch("/metrics")).text();
        assert.match(after, /^astron_watch_store_disk_full(\{[^}]*\})? 0$/m);
      } finally {
        agent.kill("SIGTERM");
        assert.equal((await agent.exit()).code, 0);
      }
      const db = new DatabaseSync(`${disk}/traces.db`, { readOnly: true });
      try {
        const rows = db.prepare("SELECT sid, count(*) AS n FROM runs GROUP BY sid").all() as {
          sid: string;
          n: number;
        }[];
        const count = new Map(rows.map((r) => [r.sid, r.n]));
        for (const sid of acknowledged) assert.equal(count.get(sid), 1, `${sid} stored once`);
      } finally {
        db.close();
      }
    } finally {
      await new Deno.Command("umount", { args: ["-l", disk] }).output();
    }
  },
);
