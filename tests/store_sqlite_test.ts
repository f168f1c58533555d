import { storeSuite } from "./fixtures/store_suite.ts";

Deno.test("trace store on SQLite", async (t) => {
  await storeSuite(t);
});
