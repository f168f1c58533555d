/**
 * The live access logs' hour summaries: visitors exact while few, a
 * HyperLogLog estimate within its stated error past that, merges that equal
 * counting everything at once, and a JSON round trip that keeps it all.
 */

import assert from "node:assert/strict";
import { Distinct, EXACT_VISITORS, HourSummary } from "../src/access/hour_summary.ts";
import { errorBursts } from "../src/access/aggregate.ts";
import { hash53 } from "../src/access/hash53.ts";
import { emptyLine } from "../src/access/log_format.ts";
import { agentFamily } from "../src/access/classify.ts";

Deno.test("access hours: visitors are exact up to the bound, then within 5% (1.6% standard error)", () => {
  const d = new Distinct();
  for (let i = 0; i < EXACT_VISITORS; i++) d.add(hash53(`v${i}`));
  for (let i = 0; i < EXACT_VISITORS; i++) d.add(hash53(`v${i}`)); // again: no change
  assert.equal(d.count(), EXACT_VISITORS);
  assert.ok(d.exact);
  for (const n of [5_000, 100_000, 1_000_000]) {
    const big = new Distinct();
    for (let i = 0; i < n; i++) big.add(hash53(`2026-11-26|10.0.${i % 256}.${i >> 8}|ua`));
    assert.ok(!big.exact);
    const error = Math.abs(big.count() - n) / n;
    assert.ok(
      error < 0.05,
      `${n} visitors estimated as ${big.count()} (${(error * 100).toFixed(1)}%)`,
    );
  }
});

Deno.test("access hours: merging hours equals counting them together; JSON keeps everything", () => {
  const whole = new Distinct();
  const parts = [new Distinct(), new Distinct(), new Distinct()];
  for (let i = 0; i < 30_000; i++) {
    const h = hash53(`visitor-${i % 20_000}`); // overlapping parts
    whole.add(h);
    parts[i % 3].add(h);
  }
  const merged = new Distinct();
  for (const p of parts) merged.merge(Distinct.from(JSON.parse(JSON.stringify(p.toJSON()))));
  assert.equal(merged.count(), whole.count());

  const line = emptyLine();
  const a = new HourSummary(3);
  const b = new HourSummary(3);
  const add = (s: HourSummary, path: string, status: number, ua: string) => {
    Object.assign(line, {
      path,
      status,
      bytes: 10,
      userAgent: ua,
      referer: "-",
      day: "2026-11-26",
    });
    s.add(line, "10.0.0.1");
  };
  for (let i = 0; i < 5; i++) add(a, "/a", 200, "curl/8");
  for (let i = 0; i < 3; i++) add(b, "/missing", 404, "curl/8");
  add(b, "/a", 500, "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0");
  const back = HourSummary.parse(a.toJSON());
  back.merge(HourSummary.parse(b.toJSON()));
  const tops = back.tops(10);
  assert.deepEqual(tops.paths.map((e) => [e.value, e.requests]), [["/a", 6], ["/missing", 3]]);
  assert.deepEqual(tops.not_found.map((e) => [e.value, e.requests]), [["/missing", 3]]);
  assert.deepEqual(tops.clients.map((e) => [e.value, e.requests, e.bytes]), [["10.0.0.1", 9, 90]]);
  // 404s are not visitors (as GoAccess): curl and the browser are two.
  assert.deepEqual(back.uniqueVisitors(), { count: 2, exact: true });
  // Anything else in the column is an empty summary, not an error.
  assert.deepEqual(HourSummary.parse("{").tops(1).paths, []);
});

Deno.test("access: user-agent families do not depend on version numbers, and are cached by shape", () => {
  const cases: [string, string][] = [
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.6099.71 Safari/537.36",
      "chrome",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/121.0.1.2 Safari/537.36",
      "chrome",
    ],
    ["Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "firefox"],
    ["l9explore/1.2.2", "scanner"],
    ["sqlmap/1.7.2#stable (https://sqlmap.org)", "scanner"],
    ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"],
    ["curl/8.5.0", "curl"],
    ["-", "none"],
    ["", "none"],
    ["12345", "other"],
  ];
  for (const [ua, family] of cases) {
    assert.equal(agentFamily(ua), family, ua);
    assert.equal(agentFamily(ua), family, `${ua}, cached`);
  }
});

Deno.test("access hours: suspicious requests by reason and 404 storms survive a merge and JSON; 5xx bursts join minutes", () => {
  const line = emptyLine();
  const a = new HourSummary();
  const b = new HourSummary();
  const add = (s: HourSummary, client: string, path: string, status: number, ua = "curl/8") => {
    Object.assign(line, {
      method: "GET",
      path,
      query: "",
      status,
      bytes: 1,
      userAgent: ua,
      referer: "-",
      day: "2026-11-26",
      time: Date.parse("2026-11-26T10:00:00Z"),
    });
    s.add(line, client);
  };
  add(a, "10.0.0.1", "/../../etc/passwd", 400);
  add(b, "10.0.0.2", "/static/../../etc/passwd", 400);
  add(a, "10.0.0.3", "/", 200, "sqlmap/1.7.2#stable");
  // One client: 60 requests answered 404 and 10 others; another: 60 404s among 200 (not a storm).
  for (let i = 0; i < 30; i++) add(a, "10.9.9.9", `/nope/${i}`, 404);
  for (let i = 0; i < 30; i++) add(b, "10.9.9.9", `/nope/b${i}`, 404);
  for (let i = 0; i < 10; i++) add(b, "10.9.9.9", "/", 200);
  for (let i = 0; i < 60; i++) add(a, "10.8.8.8", `/x/${i}`, 404);
  for (let i = 0; i < 140; i++) add(b, "10.8.8.8", "/", 200);
  const merged = HourSummary.parse(a.toJSON());
  merged.merge(HourSummary.parse(b.toJSON()));
  const flagged = Object.fromEntries(merged.flagged().map((g) => [g.reason, g]));
  assert.equal(flagged.path_traversal.requests, 2);
  assert.equal(flagged.path_traversal.clients, 2);
  assert.equal(flagged.path_traversal.examples[0].request, "GET /../../etc/passwd");
  assert.equal(flagged.scanner_agent.requests, 1);
  assert.deepEqual(
    [flagged.not_found_storm.requests, flagged.not_found_storm.clients],
    [60, 1],
  );
  assert.equal(flagged.not_found_storm.examples[0].client, "10.9.9.9");

  const at = (m: number) => Date.parse("2026-11-26T10:00:00Z") + m * 60_000;
  assert.deepEqual(
    errorBursts([[at(2), 50, 12], [at(0), 100, 30], [at(1), 40, 10], [at(3), 100, 9], [
      at(4),
      100,
      15,
    ]]),
    [{
      start: new Date(at(0)).toISOString(),
      end: new Date(at(3)).toISOString(),
      requests: 190,
      errors_5xx: 52,
    }],
    "minutes 0-2 are one burst; 3 has too few 5xx, 4 too small a share",
  );
});
