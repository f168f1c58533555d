/**
 * OTLP/HTTP JSON that no OTLP message can be: a body that is not an object,
 * and nanosecond times past 2^64-1 (OTLP's `fixed64`). Each is refused whole
 * with 400 naming the problem, and nothing is stored; protobuf, which cannot
 * carry such values, reads as before.
 */

import assert from "node:assert/strict";
import root from "@opentelemetry/otlp-transformer/generated/root";
import { serveTraces, type TraceServer } from "./fixtures/trace_server.ts";

const json = { "Content-Type": "application/json" };
/** 2^64-1: the largest time OTLP can carry. */
const NANOS_MAX = "18446744073709551615";
const TOO_BIG = "99999999999999999999";

async function spanCount(api: TraceServer): Promise<number> {
  const row = await api.store.backend.db.selectFrom("spans")
    .select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A span in OTLP JSON, its time fields written as given (raw JSON text). */
function spanText(spanId: string, times: { start?: string; end?: string; event?: string }) {
  const event = times.event ? `,"events":[{"name":"e","timeUnixNano":${times.event}}]` : "";
  return `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"${spanId}","name":"s",` +
    `"startTimeUnixNano":${times.start ?? '"1767225600000000000"'},` +
    `"endTimeUnixNano":${times.end ?? '"1767225600100000000"'}${event}}`;
}

function requestText(...spans: string[]): string {
  return `{"resourceSpans":[{"scopeSpans":[{"spans":[${spans.join(",")}]}]}]}`;
}

Deno.test("OTLP JSON whose body is not an object gets 400 naming the body", async (t) => {
  await using api = await serveTraces();
  const bodies = [
    { label: "null", got: "null", body: "null" },
    { label: "a list", got: "a list", body: "[]" },
    { label: "a number", got: "number", body: "42" },
    { label: "a string", got: "string", body: '"spans"' },
  ];
  for (const { label, got, body } of bodies) {
    await t.step(`a body of ${label} gets 400`, async () => {
      const res = await api.call("/v1/traces", { method: "POST", headers: json, body });
      assert.equal(res.status, 400, res.text);
      assert.equal(
        res.json.error.message,
        `body: expected an OTLP ExportTraceServiceRequest (a JSON object), got ${got}`,
      );
    });
  }
  await t.step("nothing was stored", async () => {
    assert.equal(await spanCount(api), 0);
  });
});

Deno.test("OTLP times past 2^64-1 nanoseconds get 400 naming the field, and nothing is stored", async (t) => {
  await using api = await serveTraces();
  const good = spanText("eee19b7ec3c1b174", {});
  const at = "resourceSpans[0].scopeSpans[0].spans[1]";
  const cases = [
    {
      name: "a start time as a 20-digit string",
      span: spanText("eee19b7ec3c1b175", { start: `"${TOO_BIG}"` }),
      message: `${at}.startTimeUnixNano: "${TOO_BIG}" is past 2^64-1 nanoseconds`,
    },
    {
      name: "an end time as a JSON number",
      span: spanText("eee19b7ec3c1b175", { end: TOO_BIG }),
      message: `${at}.endTimeUnixNano: 100000000000000000000 is past 2^64-1 nanoseconds`,
    },
    {
      name: "an event time one past the largest",
      span: spanText("eee19b7ec3c1b175", { event: '"18446744073709551616"' }),
      message: `${at}.events[0].timeUnixNano: "18446744073709551616" is past 2^64-1 nanoseconds`,
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} gets 400`, async () => {
      const res = await api.call("/v1/traces", {
        method: "POST",
        headers: json,
        body: requestText(good, c.span),
      });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.message, c.message);
      assert.equal(await spanCount(api), 0, "the good span beside it is not stored either");
    });
  }

  await t.step("2^64-1 itself is a time, in JSON and in protobuf", async () => {
    const before = await spanCount(api);
    const res = await api.call("/v1/traces", {
      method: "POST",
      headers: json,
      body: requestText(spanText("eee19b7ec3c1b176", { end: `"${NANOS_MAX}"` })),
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {});
    // deno-lint-ignore no-explicit-any
    const proto = (root as any).opentelemetry.proto.collector.trace.v1;
    const bytes = proto.ExportTraceServiceRequest.encode({
      resourceSpans: [{
        scopeSpans: [{
          spans: [{
            traceId: new Uint8Array(16).fill(1),
            spanId: new Uint8Array(8).fill(2),
            name: "far",
            startTimeUnixNano: "1767225600000000000",
            endTimeUnixNano: NANOS_MAX,
          }],
        }],
      }],
    }).finish();
    const pb = await api.fetch("/v1/traces", {
      method: "POST",
      headers: { "Content-Type": "application/x-protobuf" },
      body: bytes,
    });
    assert.equal(pb.status, 200, await pb.clone().text());
    const answer = proto.ExportTraceServiceResponse.decode(new Uint8Array(await pb.arrayBuffer()));
    assert.equal(answer.partialSuccess, null);
    assert.equal(await spanCount(api), before + 2);
    const rows = await api.store.backend.db.selectFrom("spans").select("record").execute();
    const ends = rows.map((r) => JSON.parse(r.record)).filter((s) =>
      s.name === "far" || s.span_id === "eee19b7ec3c1b176"
    ).map((s) => s.end_time_unix_nano);
    assert.deepEqual(ends, [NANOS_MAX, NANOS_MAX]);
  });
});
