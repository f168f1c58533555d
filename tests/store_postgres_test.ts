import { locatePostgres, testDatabase } from "./support/postgres.ts";
import { serverTest } from "./support/servers.ts";
import { storeSuite } from "./fixtures/store_suite.ts";

serverTest("trace store on PostgreSQL", locatePostgres(), async (source, t) => {
  await using db = await testDatabase(source);
  await storeSuite(t, db.url);
});
