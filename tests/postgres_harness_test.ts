import assert from "node:assert/strict";
import postgres from "postgres";
import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { serverTest } from "./support/servers.ts";

serverTest(
  "tests get a real PostgreSQL database of their own on loopback",
  locatePostgres(),
  async (source) => {
    await using db = await testDatabase(source);
    assert.match(new URL(db.url).hostname, /^(127\.0\.0\.1|localhost|::1|\[::1\])$/);
    const sql = postgres(db.url, { max: 1 });
    try {
      const [row] = await sql`SELECT 1 AS one, current_database() AS db`;
      assert.equal(row.one, 1);
      assert.equal(row.db, new URL(db.url).pathname.slice(1));
    } finally {
      await sql.end();
    }
  },
);
