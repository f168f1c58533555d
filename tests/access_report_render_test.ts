import assert from "node:assert/strict";
import { type AccessReport, REPORT_SCHEMA, type TopEntry } from "../src/access/report_schema.ts";
import { renderReportHtml } from "../src/access/report_html.ts";
import { renderReportText } from "../src/access/report_text.ts";
import { NAMED_FORMATS } from "../src/access/log_format.ts";

const EVIL_PATH = `/search?q=<script>alert("x")</script>&a='b'`;
const EVIL_AGENT = `Mozilla/5.0 "><script>steal(document.cookie)</script> & friends`;

function entry(value: string, requests: number, bytes: number, error = 0): TopEntry {
  return { value, requests, bytes, error };
}

/** `n` hours from 2026-11-24T00:00Z, busier by day, with a 5xx spike in hour 37. */
function hours(n: number): AccessReport["hours"] {
  const start = Date.parse("2026-11-24T00:00:00Z");
  return Array.from({ length: n }, (_, i) => {
    const hourOfDay = i % 24;
    const requests = hourOfDay < 6 ? 300 + i : 15_000 + 700 * hourOfDay + i;
    return {
      hour: new Date(start + i * 3_600_000).toISOString(),
      requests,
      bytes: requests * 2_900,
      errors_5xx: i === 37 ? 1_800 : hourOfDay % 7 === 0 ? 3 : 0,
    };
  });
}

/** Three days of the platform's nginx, as `access-log report --format json` would give it. */
function fixture(hourCount = 72): AccessReport {
  const hs = hours(hourCount);
  const requests = hs.reduce((s, h) => s + h.requests, 0);
  const bytes = hs.reduce((s, h) => s + h.bytes, 0);
  const e5 = hs.reduce((s, h) => s + h.errors_5xx, 0);
  const e4 = 21_345;
  const e3 = 40_000;
  return {
    schema: REPORT_SCHEMA,
    generated_at: "2026-11-27T08:15:00.000Z",
    files: ["/var/log/nginx/access.log", "/var/log/nginx/access.log.1.gz"],
    log_format: NAMED_FORMATS.main,
    lines: {
      total: requests + 1_240,
      parsed: requests + 1_200,
      unparsed: 37,
      unparsed_samples: [
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage TLS hello",
        `10.0.0.9 - - [25/Nov/2026:13:02:11 +0800] "<script>x</script>" 400 0 "-" "-"`,
      ],
      cut: 2,
      binary: 1,
      outside_window: 1_200,
    },
    first: hs[0].hour,
    last: new Date(Date.parse(hs[hs.length - 1].hour) + 3_599_000).toISOString(),
    requests,
    bytes,
    visitors: 18_231,
    visitors_note: "exact: distinct (day, client, user agent)",
    status_classes: {
      "1xx": 0,
      "2xx": requests - e3 - e4 - e5,
      "3xx": e3,
      "4xx": e4,
      "5xx": e5,
    },
    statuses: [
      { status: 200, requests: requests - e3 - e4 - e5, bytes: bytes - 1_000_000 },
      { status: 304, requests: e3, bytes: 0 },
      { status: 404, requests: e4, bytes: 900_000 },
      { status: 502, requests: e5, bytes: 100_000 },
    ],
    methods: [{ method: "GET", requests: requests - 90_000 }, { method: "POST", requests: 90_000 }],
    routes: [
      {
        route: "static",
        requests: Math.round(requests * 0.6),
        bytes: Math.round(bytes * 0.8),
        errors_4xx: 9_000,
        errors_5xx: 0,
      },
      {
        route: "api",
        requests: Math.round(requests * 0.3),
        bytes: Math.round(bytes * 0.15),
        errors_4xx: 12_000,
        errors_5xx: e5 - 40,
        request_time_ms: { p50: 12.5, p90: 180, p99: 2_400 },
      },
      {
        route: "sse",
        requests: Math.round(requests * 0.1),
        bytes: Math.round(bytes * 0.05),
        errors_4xx: 345,
        errors_5xx: 40,
        request_time_ms: { p50: 8_100, p90: 31_000, p99: 58_000 },
      },
    ],
    hours: hs,
    top: {
      paths: [
        entry("/console-api/chat-message/list", 412_007, 1_200_000_000),
        entry("/workflow/v1/chat/completions", 88_123, 3_400_000_000),
        entry(EVIL_PATH, 12, 4_000, 3),
        ...Array.from({ length: 15 }, (_, i) => entry(`/assets/chunk-${i}.js`, 5_000 - i, 90_000)),
      ],
      not_found: [entry("/.env", 310, 0), entry("/wp-login.php", 120, 0, 4)],
      clients: [entry("203.0.113.7", 52_000, 90_000_000), entry("198.51.100.23", 31_000, 4_000)],
      user_agents: [entry("Chrome 131", 300_000, 1e9), entry(EVIL_AGENT, 3, 300)],
      referers: [entry("https://console.example.cn/space", 12_000, 1e6)],
    },
    request_time_ms: { p50: 9.8, p90: 240, p99: 12_000, count: requests },
    suspicious: [
      {
        reason: "path_traversal",
        requests: 23,
        clients: 2,
        examples: [{
          time: "2026-11-25T13:01:02.000Z",
          client: "198.51.100.23",
          request: "GET /static/../../etc/passwd HTTP/1.1",
          status: 400,
        }],
      },
      {
        reason: "scanner_agent",
        requests: 1_204,
        clients: 1,
        examples: [{
          time: "2026-11-25T13:05:00.000Z",
          client: "198.51.100.23",
          request: `GET ${EVIL_PATH} HTTP/1.1`,
          status: 404,
        }],
      },
    ],
    bursts: [{
      start: "2026-11-25T13:00:00.000Z",
      end: "2026-11-25T13:04:00.000Z",
      requests: 2_100,
      errors_5xx: 1_780,
    }],
  };
}

/** A report of no lines at all. */
function emptyReport(): AccessReport {
  return {
    schema: REPORT_SCHEMA,
    generated_at: "2026-11-27T08:15:00.000Z",
    files: ["/var/log/nginx/empty.log"],
    log_format: NAMED_FORMATS.main,
    lines: {
      total: 0,
      parsed: 0,
      unparsed: 0,
      unparsed_samples: [],
      cut: 0,
      binary: 0,
      outside_window: 0,
    },
    requests: 0,
    bytes: 0,
    visitors: 0,
    visitors_note: "exact",
    status_classes: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 },
    statuses: [],
    methods: [],
    routes: [],
    hours: [],
    top: { paths: [], not_found: [], clients: [], user_agents: [], referers: [] },
    suspicious: [],
    bursts: [],
  };
}

/** Every `src=`/`href=` value in `html`. */
function urlAttributes(html: string): string[] {
  return [
    ...html.matchAll(/\b(?:src|href|xlink:href|action|srcset)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi),
  ]
    .map((m) => m[1].replace(/^["']|["']$/g, ""));
}

Deno.test("html report carries a CSP that refuses every fetch", () => {
  const html = renderReportHtml(fixture());
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.ok(
    html.includes(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    ),
  );
  assert.ok(html.indexOf("Content-Security-Policy") < html.indexOf("<style>"));
});

Deno.test("html report makes no external request", () => {
  const html = renderReportHtml(fixture());
  for (const url of urlAttributes(html)) {
    assert.doesNotMatch(url, /^(?:https?:)?\/\//i, `external url attribute ${url}`);
  }
  assert.doesNotMatch(html, /<script\b[^>]*\bsrc/i);
  assert.doesNotMatch(html, /<(?:link|img|iframe|object|embed)\b/i);
  assert.doesNotMatch(html, /url\(|@import/i);
  // The referer is shown as text, never as a link.
  assert.ok(html.includes("https://console.example.cn/space"));
  assert.doesNotMatch(html, /<a\b/i);
});

Deno.test("html report escapes paths, user agents and unparsed lines from the log", () => {
  const html = renderReportHtml(fixture());
  assert.doesNotMatch(html, /<script/i);
  assert.ok(
    html.includes(
      "/search?q=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;a=&#39;b&#39;",
    ),
  );
  assert.ok(
    html.includes(
      "Mozilla/5.0 &quot;&gt;&lt;script&gt;steal(document.cookie)&lt;/script&gt; &amp; friends",
    ),
  );
  // Control bytes of a TLS hello sent to port 80 are spelled out, not pasted raw.
  assert.ok(html.includes("\\x16\\x03\\x01\\x02\\x00"));
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(html, /[\x00-\x08\x0b\x0c\x0e-\x1f]/);
});

Deno.test("html report shows the totals, shares and the error bound of a top entry", () => {
  const r = fixture();
  const html = renderReportHtml(r);
  assert.equal(r.requests, 1_366_056);
  assert.ok(html.includes("<b>1,366,056</b>"), "requests card");
  assert.ok(html.includes("<b>18,231</b>"), "visitors card");
  assert.ok(html.includes("<b>3.69 GiB</b>"), "bytes card");
  assert.ok(html.includes("<b>1.6%</b>"), "4xx share card");
  assert.ok(html.includes("<b>3d</b>"), "time span card");
  assert.ok(html.includes(">±3</span>"), "error bound");
  assert.ok(html.includes("Path traversal"));
  assert.ok(html.includes("GET /static/../../etc/passwd HTTP/1.1"));
  assert.ok(html.includes("<td>502</td>"));
});

Deno.test("html report draws one bar per hour, each with a tooltip", () => {
  const r = fixture();
  const html = renderReportHtml(r);
  const svg = html.match(/<svg class="hours"[^]*?<\/svg>/)?.[0] ?? "";
  assert.equal(svg.match(/<rect class="r"/g)?.length, r.hours.length);
  assert.equal(svg.match(/<title>/g)?.length, r.hours.length);
  assert.equal(svg.match(/<rect class="e"/g)?.length, r.hours.filter((h) => h.errors_5xx).length);
  assert.ok(
    svg.includes("<title>2026-11-25 13:00 UTC: 24,137 requests, 1,800 5xx, 66.8 MiB</title>"),
    "the spike's tooltip",
  );
  assert.ok(svg.includes(">11-25</text>"), "a day label on the x axis");
});

Deno.test("html report of 30 days stays light", () => {
  const r = fixture(24 * 30);
  const started = performance.now();
  const html = renderReportHtml(r);
  const took = performance.now() - started;
  assert.equal(html.match(/<rect class="r"/g)?.length, 24 * 30);
  assert.ok(html.length < 400_000, `${html.length} characters`);
  assert.ok(took < 1_000, `${took} ms`);
  assert.ok((html.match(/<text /g)?.length ?? 0) <= 16, "x-axis labels thinned out");
});

Deno.test("an empty report renders without NaN or Infinity", () => {
  const r = emptyReport();
  const html = renderReportHtml(r);
  const text = renderReportText(r);
  for (const out of [html, text]) {
    assert.doesNotMatch(out, /NaN|Infinity|undefined|null/);
  }
  assert.ok(html.includes(`<p class="note">no requests</p>`));
  assert.match(text, /^requests +0 +visitors 0 +bytes 0 B$/m);
  assert.match(text, /^no requests counted$/m);
});

Deno.test("a report whose hours all have zero requests draws zero-height bars", () => {
  const r = emptyReport();
  r.hours = hours(3).map((h) => ({ ...h, requests: 0, bytes: 0, errors_5xx: 0 }));
  const html = renderReportHtml(r);
  assert.doesNotMatch(html, /NaN|Infinity/);
  assert.equal(html.match(/<rect class="r"[^>]*height="0"/g)?.length, 3);
});

Deno.test("text report shows the totals with separators and the top path", () => {
  const text = renderReportText(fixture());
  assert.match(text, /^requests +1,366,056 +visitors 18,231 +bytes 3\.69 GiB$/m);
  assert.match(
    text,
    /^status +2xx 1,302,875 \(95\.4%\) +3xx 40,000 \(2\.9%\) +4xx 21,345 \(1\.6%\)/m,
  );
  assert.match(
    text,
    /^\| +1 \| \/console-api\/chat-message\/list +\| +412,007 \| +\| +1\.12 GiB \|$/m,
  );
  assert.match(text, /^span +2026-11-24 00:00:00Z \.\. 2026-11-26 23:59:59Z \(3d\)$/m);
});

Deno.test("text report cuts top lists to 10 rows and shows one example per suspicious reason", () => {
  const text = renderReportText(fixture());
  const paths = text.slice(text.indexOf("\nTop paths\n"), text.indexOf("\nTop 404 paths\n"));
  assert.equal(paths.match(/^\| +\d+ \|/gm)?.length, 10);
  assert.match(paths, /\(8 more in the json and html reports\)/);
  assert.match(text, /^ {2}path_traversal: 23 requests from 2 clients$/m);
  assert.match(
    text,
    /^ {4}e\.g\. 2026-11-25 13:01:02Z 198\.51\.100\.23 "GET \/static\/\.\.\/\.\.\/etc\/passwd HTTP\/1\.1" 400$/m,
  );
  assert.equal(text.match(/^ {4}e\.g\. /gm)?.length, 2);
});

Deno.test("text report borders are plain ASCII and every table row lines up", () => {
  const text = renderReportText(fixture());
  const tables = text.split("\n").filter((l) => l.startsWith("+") || l.startsWith("|"));
  assert.ok(tables.length > 20);
  for (const block of text.split(/\n(?=[A-Z0-9][^\n]*\n\+)/)) {
    const rows = block.split("\n").filter((l) => /^[+|]/.test(l));
    const widths = new Set(rows.map((l) => [...l].length));
    assert.ok(widths.size <= 1, `ragged table:\n${rows.join("\n")}`);
  }
  assert.ok(tables.filter((l) => l.startsWith("+")).every((l) => /^\+[-+]+\+$/.test(l)));
});

Deno.test("text report spells out control characters a log line carried", () => {
  const r = fixture();
  r.top.user_agents.push(entry("curl\x1b[2J\x1b]0;pwned\x07", 1, 1));
  const text = renderReportText(r);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f]/);
  assert.ok(text.includes("curl\\x1b[2J\\x1b]0;pwned\\x07"));
});
