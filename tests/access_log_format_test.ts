/**
 * `compileLogFormat`'s parsers accept what nginx writes and reject the rest
 * (the line then counts as unparsed): `$status` 100..599 as three digits, a
 * real `$time_local`, byte counts as plain decimal integers, times as plain
 * decimals.
 */

import assert from "node:assert/strict";
import {
  type AccessLine,
  compileLogFormat,
  emptyLine,
  type LineParser,
  NAMED_FORMATS,
} from "../src/access/log_format.ts";

function parserOf(format: string): LineParser {
  const compiled = compileLogFormat(format);
  if (!compiled.ok) throw new Error(compiled.error);
  return compiled.parser;
}

const MAIN = parserOf(NAMED_FORMATS.main);
/** `main` and the two times, as the platform's timed format logs them. */
const TIMED = parserOf(
  `${NAMED_FORMATS.main} $request_time "$upstream_response_time"`,
);
const BYTES_SENT = parserOf('$remote_addr [$time_local] "$request" $status $bytes_sent');

interface Fields {
  time?: string;
  status?: string;
  bytes?: string;
  requestTime?: string;
  upstreamTime?: string;
}

/** A `main` line with `f`'s fields (and the two times when `timed`). */
function line(f: Fields = {}, timed = false): string {
  const main = `10.0.0.1 - - [${f.time ?? "26/Nov/2026:10:00:00 +0800"}] "GET /a?b=1 HTTP/1.1" ${
    f.status ?? "200"
  } ${f.bytes ?? "512"} "-" "curl/8.5.0" "-"`;
  return timed ? `${main} ${f.requestTime ?? "0.123"} "${f.upstreamTime ?? "0.100"}"` : main;
}

/** The parsed line, or undefined when the parser rejects it. */
function parse(parser: LineParser, text: string): AccessLine | undefined {
  const out = emptyLine();
  return parser.parse(text, out) ? out : undefined;
}

function accepts(parser: LineParser, text: string): AccessLine {
  const out = parse(parser, text);
  assert.ok(out, `rejected: ${text}`);
  return out;
}

function rejects(parser: LineParser, text: string): void {
  assert.equal(parse(parser, text), undefined, `accepted: ${text}`);
}

Deno.test("log_format: a main line parses into its fields", () => {
  const l = accepts(MAIN, line());
  assert.equal(l.remoteAddr, "10.0.0.1");
  assert.equal(l.time, Date.UTC(2026, 10, 26, 2));
  assert.equal(l.day, "2026-11-26");
  assert.equal(l.method, "GET");
  assert.equal(l.path, "/a");
  assert.equal(l.query, "b=1");
  assert.equal(l.protocol, "HTTP/1.1");
  assert.equal(l.status, 200);
  assert.equal(l.bytes, 512);
  assert.equal(l.userAgent, "curl/8.5.0");
  assert.ok(Number.isNaN(l.requestTime));
  assert.ok(Number.isNaN(l.upstreamTime));
});

Deno.test("log_format: $status 100 and 599 are accepted", () => {
  assert.equal(accepts(MAIN, line({ status: "100" })).status, 100);
  assert.equal(accepts(MAIN, line({ status: "599" })).status, 599);
  assert.equal(accepts(MAIN, line({ status: "404" })).status, 404);
});

Deno.test("log_format: $status other than three digits 100..599 is rejected", () => {
  for (
    const status of [
      "2x0",
      "x00",
      "20x",
      "099",
      "000",
      "600",
      "920",
      "999",
      "20",
      "2000",
      "-",
      "",
      " 200",
      "+20",
      "2.0",
    ]
  ) {
    rejects(MAIN, line({ status }));
  }
});

Deno.test("log_format: $time_local Feb 29 is accepted in a leap year only", () => {
  const leap = accepts(MAIN, line({ time: "29/Feb/2024:12:00:00 +0000" }));
  assert.equal(leap.time, Date.UTC(2024, 1, 29, 12));
  assert.equal(leap.day, "2024-02-29");
  assert.equal(accepts(MAIN, line({ time: "29/Feb/2000:00:00:00 +0000" })).day, "2000-02-29");
  rejects(MAIN, line({ time: "29/Feb/2023:12:00:00 +0000" }));
  rejects(MAIN, line({ time: "29/Feb/1900:12:00:00 +0000" }));
});

Deno.test("log_format: $time_local boundaries 23:59:59, month ends and offsets are accepted", () => {
  assert.equal(
    accepts(MAIN, line({ time: "31/Dec/2026:23:59:59 +0000" })).time,
    Date.UTC(2026, 11, 31, 23, 59, 59),
  );
  assert.equal(
    accepts(MAIN, line({ time: "01/Jan/2026:00:00:00 -0530" })).time,
    Date.UTC(2026, 0, 1, 5, 30),
  );
  assert.equal(
    accepts(MAIN, line({ time: "30/Apr/2026:08:00:00 +1400" })).time,
    Date.UTC(2026, 3, 29, 18),
  );
  assert.equal(
    accepts(MAIN, line({ time: "31/Jan/2026:00:00:00 +0800" })).day,
    "2026-01-31",
  );
  // A leap second: the next minute's first.
  assert.equal(
    accepts(MAIN, line({ time: "31/Dec/2016:23:59:60 +0000" })).time,
    Date.UTC(2017, 0, 1),
  );
});

Deno.test("log_format: $time_local that names no real time is rejected", () => {
  for (
    const time of [
      "32/Nov/2026:10:00:00 +0800", // day 32
      "00/Nov/2026:10:00:00 +0800", // day 0
      "31/Nov/2026:10:00:00 +0800", // November has 30
      "30/Feb/2024:10:00:00 +0800", // February never has 30
      "31/Apr/2026:10:00:00 +0800",
      "26/Foo/2026:10:00:00 +0800", // not a month
      "26/nov/2026:10:00:00 +0800", // nginx writes Nov
      "26/anF/2026:10:00:00 +0800", // inside the month names' text
      "26/Nov/2026:25:00:00 +0800", // hour 25
      "26/Nov/2026:24:00:00 +0800", // hour 24
      "26/Nov/2026:10:61:00 +0800", // minute 61
      "26/Nov/2026:10:60:00 +0800", // minute 60
      "26/Nov/2026:10:00:61 +0800", // second 61
      "26/Nov/2026:10:0x:00 +0800",
      "26/Nov/2026:10:00:0x +0800",
      "2x/Nov/2026:10:00:00 +0800",
      "26/Nov/20x6:10:00:00 +0800",
      "26/Nov/2026:1x:00:00 +0800",
      "26/Nov/2026:10-00-00 +0800", // separators
      "26-Nov-2026:10:00:00 +0800",
      "26/Nov/2026 10:00:00 +0800",
      "26/Nov/2026:10:00:00 +1500", // offset hours > 14
      "26/Nov/2026:10:00:00 +0860", // offset minutes 60
      "26/Nov/2026:10:00:00 0+800", // no sign
      "26/Nov/2026:10:00:00 *0800",
      "26/Nov/2026:10:00:00 +08x0",
      "26/Nov/2026:10:00:00 +800", // short
      "6/Nov/2026:10:00:00 +0800",
      "",
    ]
  ) {
    rejects(MAIN, line({ time }));
  }
});

Deno.test("log_format: the hour cache does not let a bad minute or second through", () => {
  // The hour is cached from the first line; the second differs only in minutes and seconds.
  accepts(MAIN, line({ time: "27/Nov/2026:10:00:00 +0800" }));
  rejects(MAIN, line({ time: "27/Nov/2026:10:61:00 +0800" }));
  rejects(MAIN, line({ time: "27/Nov/2026:10:00:99 +0800" }));
  rejects(MAIN, line({ time: "27/Nov/2026:10:-1:00 +0800" }));
  assert.equal(
    accepts(MAIN, line({ time: "27/Nov/2026:10:59:59 +0800" })).time,
    Date.UTC(2026, 10, 27, 2, 59, 59),
  );
});

Deno.test("log_format: $body_bytes_sent 0, - and plain integers are accepted", () => {
  assert.equal(accepts(MAIN, line({ bytes: "0" })).bytes, 0);
  assert.equal(accepts(MAIN, line({ bytes: "-" })).bytes, 0);
  assert.equal(accepts(MAIN, line({ bytes: "1048576" })).bytes, 1_048_576);
  assert.equal(accepts(MAIN, line({ bytes: "9007199254740993" })).bytes, 9007199254740993);
});

Deno.test("log_format: $body_bytes_sent other than a plain decimal integer is rejected", () => {
  for (const bytes of ["1e3", "-5", "0x10", "1.5", "+5", " 5", "5 ", "abc", "Infinity", "--", ""]) {
    rejects(MAIN, line({ bytes }));
  }
  rejects(MAIN, line({ bytes: "9".repeat(400) }));
});

Deno.test("log_format: $bytes_sent is checked as $body_bytes_sent is", () => {
  const at = (bytes: string) =>
    `10.0.0.1 [26/Nov/2026:10:00:00 +0800] "GET / HTTP/1.1" 200 ${bytes}`;
  assert.equal(accepts(BYTES_SENT, at("0")).bytes, 0);
  assert.equal(accepts(BYTES_SENT, at("734")).bytes, 734);
  for (const bytes of ["1e3", "-5", "0x10", "1.5"]) rejects(BYTES_SENT, at(bytes));
});

Deno.test("log_format: $request_time and $upstream_response_time as nginx writes them are accepted", () => {
  const l = accepts(TIMED, line({ requestTime: "0.123", upstreamTime: "0.100" }, true));
  assert.equal(l.requestTime, 0.123);
  assert.equal(l.upstreamTime, 0.1);
  assert.equal(accepts(TIMED, line({ requestTime: "0.000" }, true)).requestTime, 0);
  assert.equal(accepts(TIMED, line({ requestTime: "12" }, true)).requestTime, 12);
  assert.equal(accepts(TIMED, line({ requestTime: "60.001" }, true)).requestTime, 60.001);
  assert.ok(Number.isNaN(accepts(TIMED, line({ requestTime: "-" }, true)).requestTime));
  // No upstream; several tried (`,`), an internal redirect (`:`), one without an answer (`-`).
  assert.ok(Number.isNaN(accepts(TIMED, line({ upstreamTime: "-" }, true)).upstreamTime));
  assert.equal(
    accepts(TIMED, line({ upstreamTime: "0.010, 0.200" }, true)).upstreamTime,
    0.01 + 0.2,
  );
  assert.equal(
    accepts(TIMED, line({ upstreamTime: "0.010 : 0.200" }, true)).upstreamTime,
    0.01 + 0.2,
  );
  assert.equal(
    accepts(TIMED, line({ upstreamTime: "3.001, - : 0.500" }, true)).upstreamTime,
    3.001 + 0.5,
  );
});

Deno.test("log_format: $request_time other than a plain non-negative decimal is rejected", () => {
  for (
    const requestTime of [
      "1e3",
      "abc",
      "-0.5",
      "-1",
      "0x10",
      ".5",
      "5.",
      "1.2.3",
      "+1",
      " 1",
      "1,2",
      "",
    ]
  ) {
    rejects(TIMED, line({ requestTime }, true));
  }
});

Deno.test("log_format: $upstream_response_time with an entry not a decimal or - is rejected", () => {
  for (
    const upstreamTime of [
      "1e3",
      "abc",
      "-0.5",
      "0.010, 1e3",
      "0.010, abc",
      "0.010 : -0.2",
      "0.010,,0.200",
      "0.010, ",
      "--",
      "",
    ]
  ) {
    rejects(TIMED, line({ upstreamTime }, true));
  }
});

Deno.test("log_format: a format without the checked fields still parses", () => {
  const p = parserOf('$remote_addr "$request" $host');
  const l = accepts(p, '10.0.0.1 "GET /x HTTP/2.0" astron.example');
  assert.equal(l.status, 0);
  assert.equal(l.bytes, 0);
  assert.ok(Number.isNaN(l.time));
  assert.equal(l.host, "astron.example");
});

Deno.test("log_format: a line whose $time_iso8601 or $msec is empty is not parsed (it has no time to count it at)", () => {
  const line = emptyLine();
  const iso = parserOf('$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent');
  assert.ok(iso.parse('10.0.0.1 [2026-11-26T10:00:00+08:00] "GET / HTTP/1.1" 200 5', line));
  assert.ok(Number.isFinite(line.time));
  assert.ok(!iso.parse('10.0.0.1 [] "GET / HTTP/1.1" 200 5', line));
  const msec = parserOf('$remote_addr $msec "$request" $status $body_bytes_sent');
  assert.ok(msec.parse('10.0.0.1 1764122400.123 "GET / HTTP/1.1" 200 5', line));
  assert.ok(!msec.parse('10.0.0.1  "GET / HTTP/1.1" 200 5', line));
});
