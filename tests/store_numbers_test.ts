/**
 * Numbers no index can hold (integers past 2^53, up to 1e300) on every
 * backend: the record keeps them as sent, the index holds a safe stand-in
 * (a token count as 0, a status code clamped to ±(2^53-1)), and every read
 * (the list page, one run, usage statistics, `astron-watch traces list`)
 * still answers. Sums past 2^63 do not fail either.
 */

import assert from "node:assert/strict";
import { type Answer, serveTraces, type TraceServer } from "./fixtures/trace_server.ts";
import { cli } from "./support/agent.ts";
import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { IN_CI } from "./support/servers.ts";

const pg = locatePostgres();
if (!pg.ok && !IN_CI) console.log(`PostgreSQL steps skipped: ${pg.reason}`);

/** One backend the suite runs on: a served store, and whether it can run here. */
interface BackendCase {
  name: string;
  ignore: boolean;
  serve(): Promise<TraceServer & { url?: string }>;
}

/** SQLite always; PostgreSQL where one can be had (always under CI, where missing fails). */
const backends: BackendCase[] = [
  { name: "SQLite", ignore: false, serve: () => serveTraces() },
  {
    name: "PostgreSQL",
    ignore: !pg.ok && !IN_CI,
    async serve() {
      if (!pg.ok) throw new Error(`needs PostgreSQL (CI runs everything): ${pg.reason}`);
      const db = await testDatabase(pg.value);
      try {
        const api = await serveTraces({ url: db.url });
        return {
          ...api,
          url: db.url,
          async [Symbol.asyncDispose]() {
            await api[Symbol.asyncDispose]();
            await db[Symbol.asyncDispose]();
          },
        };
      } catch (err) {
        await db[Symbol.asyncDispose]();
        throw err;
      }
    },
  },
];

const INDEX_MAX = Number.MAX_SAFE_INTEGER;
/** 2^60: exact as a double, past what an index can read back as a number. */
const HUGE = "1152921504606846976";

function post(api: TraceServer, body: string): Promise<Answer> {
  return api.call("/api/v1/traces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
}

/** A record written as text, so the numbers go over the wire exactly as a client wrote them. */
function recordText(sid: string, start: number, fields: string): string {
  return `{"sid":"${sid}","app_id":"numbers","question":"${sid}","start_time":${start},` +
    `"end_time":${start + 10},${fields}}`;
}

Deno.test("integers past 2^53 are kept in the record, indexed safely, and every read still answers", async (t) => {
  for (const backend of backends) {
    await t.step({
      name: `on ${backend.name}`,
      ignore: backend.ignore,
      async fn(t) {
        await using api = await backend.serve();
        const start = Date.now() - 60_000;
        const tokens = `tokens-${backend.name}`;
        const high = `code-high-${backend.name}`;
        const low = `code-low-${backend.name}`;

        await t.step("each run is accepted with a warning naming the field", async () => {
          const usage = `"status":{"code":0,"message":"success"},` +
            `"usage":{"prompt_tokens":-1e18,"completion_tokens":5,"total_tokens":${HUGE}}`;
          const far = (code: string) => `"status":{"code":${code},"message":"far out"}`;
          const answers = [
            await post(api, recordText(tokens, start, usage)),
            await post(api, recordText(high, start + 1, far("1e300"))),
            await post(api, recordText(low, start + 2, far("-1e300"))),
          ];
          for (const a of answers) {
            assert.equal(a.status, 202, a.text);
            assert.equal(a.json.stored, 1, a.text);
          }
          const named = answers.map((a) =>
            a.json.warnings.map((w: { sid: string; warning: string }) =>
              `${w.sid} ${w.warning.split(":")[0]}`
            ).sort()
          );
          assert.deepEqual(named, [
            [`${tokens} usage.prompt_tokens`, `${tokens} usage.total_tokens`],
            [`${high} status.code`],
            [`${low} status.code`],
          ]);
        });

        await t.step("the list page answers with the indexed stand-ins", async () => {
          const list = await api.call("/api/v1/traces?app_id=numbers");
          assert.equal(list.status, 200, list.text);
          const bySid = new Map(list.json.runs.map((r: { sid: string }) => [r.sid, r]));
          assert.equal(bySid.size, 3);
          // deno-lint-ignore no-explicit-any
          const a = bySid.get(tokens) as any;
          assert.deepEqual(a.usage, {
            question_tokens: 0,
            prompt_tokens: 0,
            completion_tokens: 5,
            total_tokens: 0,
          });
          assert.equal(a.error, false);
          // deno-lint-ignore no-explicit-any
          const h = bySid.get(high) as any;
          assert.equal(h.status_code, INDEX_MAX);
          assert.equal(h.error, true);
          // deno-lint-ignore no-explicit-any
          const l = bySid.get(low) as any;
          assert.equal(l.status_code, -INDEX_MAX);
          assert.equal(l.error, true);
          const errors = await api.call("/api/v1/traces?app_id=numbers&status=error");
          assert.equal(errors.status, 200, errors.text);
          assert.deepEqual(errors.json.runs.map((r: { sid: string }) => r.sid).sort(), [high, low]);
        });

        await t.step("usage statistics answer, counting the huge tokens as 0", async () => {
          const usage = await api.call("/api/v1/stats/usage");
          assert.equal(usage.status, 200, usage.text);
          const g = usage.json.groups.find((x: { key: string }) => x.key === "numbers");
          assert.ok(g, usage.text);
          assert.equal(g.count, 3);
          assert.equal(g.errors, 2);
          assert.equal(g.prompt_tokens, 0);
          assert.equal(g.completion_tokens, 5);
          assert.equal(g.total_tokens, 0);
        });

        await t.step("each run reads back with the values as sent", async () => {
          const a = await api.call(`/api/v1/traces/${tokens}`);
          assert.equal(a.status, 200, a.text);
          // Exact: 2^60 and -10^18 are doubles, so JSON carries them without loss.
          assert.equal(BigInt(a.json.record.usage.total_tokens), BigInt(HUGE));
          assert.equal(BigInt(a.json.record.usage.prompt_tokens), -(10n ** 18n));
          const h = await api.call(`/api/v1/traces/${high}`);
          assert.equal(h.status, 200, h.text);
          assert.equal(h.json.record.status.code, 1e300);
          const l = await api.call(`/api/v1/traces/${low}`);
          assert.equal(l.status, 200, l.text);
          assert.equal(l.json.record.status.code, -1e300);
        });

        // The command reads the store file itself: the SQLite case.
        if (!api.config.url.startsWith("sqlite:")) return;
        await t.step("astron-watch traces list exits 0 and shows the runs", async () => {
          await api.store.stop();
          const config = `${api.dir}/astron-watch.yaml`;
          await Deno.writeTextFile(
            config,
            `store:\n  url: ${api.config.url}\n  blob_dir: ${api.dir}/blobs\nprobes: []\n`,
          );
          const r = await cli(["traces", "list", "--config", config, "--app-id", "numbers"], {
            cwd: api.dir,
          });
          assert.equal(r.code, 0, r.stderr);
          const lines = r.stdout.trim().split("\n");
          assert.equal(lines.length, 4, r.stdout);
          const line = (sid: string) => lines.find((x) => x.includes(sid)) ?? "";
          assert.match(line(tokens), / ok +10 +0 /);
          assert.match(line(high), new RegExp(`error ${INDEX_MAX} `));
          assert.match(line(low), new RegExp(`error -${INDEX_MAX} `));
        });
      },
    });
  }
});

Deno.test("usage statistics answer when 1024 runs of 2^53-1 tokens each are summed", async (t) => {
  for (const backend of backends) {
    await t.step({
      name: `on ${backend.name}`,
      ignore: backend.ignore,
      async fn() {
        await using api = await backend.serve();
        const start = Date.now() - 60_000;
        const records = Array.from({ length: 1024 }, (_, i) => ({
          sid: `max-${i}`,
          app_id: "max",
          start_time: start + i,
          usage: { total_tokens: INDEX_MAX },
        }));
        const r = await post(api, JSON.stringify(records));
        assert.equal(r.status, 202, r.text.slice(0, 500));
        assert.equal(r.json.stored, 1024);

        const usage = await api.call("/api/v1/stats/usage");
        assert.equal(usage.status, 200, usage.text);
        const g = usage.json.groups.find((x: { key: string }) => x.key === "max");
        assert.ok(g, usage.text);
        assert.equal(g.count, 1024);
        // 1024 * (2^53 - 1) = 2^63 - 1024: past a signed 64-bit sum's reach on some backends.
        const expected = 1024 * INDEX_MAX;
        assert.ok(
          Math.abs(g.total_tokens - expected) / expected < 1e-9,
          `total_tokens ${g.total_tokens}, expected about ${expected}`,
        );
      },
    });
  }
});
