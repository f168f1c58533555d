/**
 * The OTLP metrics and logs decoders on their own: both encodings land in
 * one normal form, a malformed item is refused alone (partial success),
 * an unreadable request whole; and the `google.rpc.Status` answers.
 */

import assert from "node:assert/strict";
import root from "@opentelemetry/otlp-transformer/generated/root";
import {
  decodeMetricsJson,
  decodeMetricsProtobuf,
  encodeMetricsResponse,
  metricsJsonResponse,
} from "../src/otlp/metrics.ts";
import {
  decodeLogsJson,
  decodeLogsProtobuf,
  encodeLogsResponse,
  severityName,
} from "../src/otlp/logs.ts";
import { OtlpError, TO_OBJECT } from "../src/otlp/values.ts";
import { encodeStatus, grpcMessage } from "../src/otlp/rpc_status.ts";
import { ExportLogsServiceRequest } from "../src/otlp/logs_proto.ts";
import type { ReceivedMetric } from "../src/otlp/metric_points.ts";

// deno-lint-ignore no-explicit-any
const proto = (root as any).opentelemetry.proto;
const MetricsRequest = proto.collector.metrics.v1.ExportMetricsServiceRequest;

/** The values of a gauge's or sum's points. */
function values(m: ReceivedMetric): number[] {
  return m.kind === "histogram" ? [] : m.points.map((p) => p.value);
}

const T0 = "1767225600000000000";
const T1 = "1767225660000000000";
const attrs = (o: Record<string, string | number>) =>
  Object.entries(o).map(([key, v]) => ({
    key,
    value: typeof v === "string" ? { stringValue: v } : { intValue: String(v) },
  }));

/** The platform's two metrics, as core-workflow exports them (ms in the "microseconds" histogram). */
function platformMetrics() {
  const labels = {
    dc: "hf",
    server_host: "10.0.0.5",
    server_name: "core-workflow",
    app_id: "a1",
    func: "chat",
    pid: 7,
  };
  return {
    resourceMetrics: [{
      resource: { attributes: attrs({ "service.name": "core-workflow", dc: "hf" }) },
      scopeMetrics: [{
        scope: { name: "service_meter", version: "1" },
        metrics: [
          {
            name: "server_request_total",
            description: "requests",
            unit: "1",
            sum: {
              aggregationTemporality: 2,
              isMonotonic: true,
              dataPoints: [
                {
                  attributes: attrs({ ...labels, ret: 0 }),
                  startTimeUnixNano: T0,
                  timeUnixNano: T1,
                  asInt: "41",
                },
                {
                  attributes: attrs({ ...labels, ret: 20204 }),
                  startTimeUnixNano: T0,
                  timeUnixNano: T1,
                  asInt: "2",
                },
              ],
            },
          },
          {
            name: "server_request_time_microseconds",
            unit: "ms",
            histogram: {
              aggregationTemporality: 2,
              dataPoints: [{
                attributes: attrs(labels),
                startTimeUnixNano: T0,
                timeUnixNano: T1,
                count: "43",
                sum: 5120.5,
                bucketCounts: ["0", "3", "10", "30", "0"],
                explicitBounds: [0, 5, 10, 25],
                min: 1.5,
                max: 24,
              }],
            },
          },
          { name: "server_conc", gauge: { dataPoints: [{ timeUnixNano: T1, asDouble: 3 }] } },
        ],
      }],
    }],
  };
}

Deno.test("platform metrics decode to one normal form from protobuf and from JSON", () => {
  const json = platformMetrics();
  const bytes = MetricsRequest.encode(MetricsRequest.fromObject(json)).finish();
  const fromProto = decodeMetricsProtobuf(bytes);
  const fromJson = decodeMetricsJson(JSON.parse(JSON.stringify(json)));
  assert.deepEqual(fromProto, fromJson);
  assert.equal(fromJson.rejected, 0);
  const [total, hist, conc] = fromJson.metrics;
  assert.equal(total.service, "core-workflow");
  assert.deepEqual(total.scope, { name: "service_meter", version: "1" });
  assert.equal(total.kind, "sum");
  if (total.kind !== "sum") return;
  assert.equal(total.temporality, "cumulative");
  assert.equal(total.monotonic, true);
  assert.deepEqual(total.points.map((p) => [p.attributes.ret, p.value]), [[0, 41], [20204, 2]]);
  assert.equal(total.points[0].attributes.pid, 7, "pid is an int over OTLP");
  assert.equal(total.points[0].start_time_unix_nano, T0);
  assert.equal(hist.kind, "histogram");
  if (hist.kind !== "histogram") return;
  assert.deepEqual(hist.points[0], {
    attributes: {
      dc: "hf",
      server_host: "10.0.0.5",
      server_name: "core-workflow",
      app_id: "a1",
      func: "chat",
      pid: 7,
    },
    start_time_unix_nano: T0,
    time_unix_nano: T1,
    count: 43,
    sum: 5120.5,
    explicit_bounds: [0, 5, 10, 25],
    bucket_counts: [0, 3, 10, 30, 0],
    min: 1.5,
    max: 24,
  });
  assert.equal(conc.kind, "gauge");
  assert.deepEqual(conc.points, [{ attributes: {}, time_unix_nano: T1, value: 3 }]);
});

Deno.test("a malformed or unsupported metric point is refused alone, the rest kept", async (t) => {
  const metric = (m: Record<string, unknown>) => ({
    resourceMetrics: [{
      scopeMetrics: [{ metrics: [m, { name: "ok", gauge: { dataPoints: [{ asInt: "1" }] } }] }],
    }],
  });
  const cases: {
    name: string;
    metric: Record<string, unknown>;
    rejected: number;
    error: RegExp;
  }[] = [
    {
      name: "an exponential histogram",
      metric: {
        name: "e",
        exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{}, {}] },
      },
      rejected: 2,
      error: /metrics\[0\]\.exponentialHistogram: not supported/,
    },
    {
      name: "a summary",
      metric: { name: "s", summary: { dataPoints: [{}] } },
      rejected: 1,
      error: /summary: not supported/,
    },
    {
      name: "a sum of unspecified temporality",
      metric: { name: "c", sum: { dataPoints: [{ asInt: "1" }, { asInt: "2" }] } },
      rejected: 2,
      error: /aggregationTemporality: expected delta \(1\) or cumulative \(2\), got unspecified/,
    },
    {
      name: "a metric without a name",
      metric: { gauge: { dataPoints: [{ asInt: "1" }] } },
      rejected: 1,
      error: /metrics\[0\]\.name: missing/,
    },
    {
      name: "a point without a value",
      metric: { name: "g", gauge: { dataPoints: [{ asInt: "1" }, { timeUnixNano: T1 }] } },
      rejected: 1,
      error: /dataPoints\[1\]: no value/,
    },
    {
      name: "histogram buckets that do not fit the bounds",
      metric: {
        name: "h",
        histogram: {
          aggregationTemporality: 1,
          dataPoints: [{ count: "1", bucketCounts: ["1"], explicitBounds: [1, 2] }],
        },
      },
      rejected: 1,
      error: /bucketCounts: expected 3 counts for 2 bounds, got 1/,
    },
    {
      name: "histogram bounds out of order",
      metric: {
        name: "h",
        histogram: {
          aggregationTemporality: 1,
          dataPoints: [{ bucketCounts: ["1", "1", "1"], explicitBounds: [2, 1] }],
        },
      },
      rejected: 1,
      error: /explicitBounds: not increasing/,
    },
    {
      name: "an attribute of the wrong type",
      metric: {
        name: "g",
        gauge: {
          dataPoints: [{ asInt: "1", attributes: [{ key: "k", value: { intValue: "x" } }] }],
        },
      },
      rejected: 1,
      error: /attributes\[0\]\.value\.intValue: expected an integer/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const d = decodeMetricsJson(metric(c.metric));
      assert.equal(d.rejected, c.rejected);
      assert.match(d.error ?? "", c.error);
      assert.ok(d.metrics.some((m) => m.name === "ok"), "the good metric is kept");
    });
  }
  await t.step("a point flagged 'no recorded value' is skipped, not refused", () => {
    const d = decodeMetricsJson(
      metric({ name: "g", gauge: { dataPoints: [{ flags: 1 }, { asDouble: 2 }] } }),
    );
    assert.equal(d.rejected, 0);
    assert.deepEqual(values(d.metrics[0]), [2]);
  });
  await t.step("OTLP JSON's NaN and Infinity are numbers", () => {
    const d = decodeMetricsJson(
      metric({
        name: "g",
        gauge: { dataPoints: [{ asDouble: "NaN" }, { asDouble: "-Infinity" }] },
      }),
    );
    assert.equal(d.rejected, 0);
    assert.ok(Number.isNaN(values(d.metrics[0])[0]));
    assert.equal(values(d.metrics[0])[1], -Infinity);
  });
});

Deno.test("a metrics request that cannot be read is refused whole", async (t) => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "garbage protobuf",
      () => decodeMetricsProtobuf(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f])),
      /not an OTLP ExportMetricsServiceRequest/,
    ],
    ["truncated protobuf", () => {
      const bytes = MetricsRequest.encode(MetricsRequest.fromObject(platformMetrics())).finish();
      return decodeMetricsProtobuf(bytes.subarray(0, bytes.length - 7));
    }, /not an OTLP ExportMetricsServiceRequest/],
    [
      "a JSON list",
      () => decodeMetricsJson([]),
      /expected an OTLP ExportMetricsServiceRequest \(a JSON object\), got a list/,
    ],
    [
      "resourceMetrics not a list",
      () => decodeMetricsJson({ resourceMetrics: {} }),
      /resourceMetrics: expected a list/,
    ],
    ["a time past 2^64-1", () =>
      decodeMetricsJson({
        resourceMetrics: [{
          scopeMetrics: [{
            metrics: [{
              name: "g",
              gauge: { dataPoints: [{ asInt: "1", timeUnixNano: "18446744073709551616" }] },
            }],
          }],
        }],
      }), /is past 2\^64-1 nanoseconds/],
  ];
  for (const [name, run, message] of cases) {
    await t.step(
      name,
      () =>
        assert.throws(run, (err: Error) => err instanceof OtlpError && message.test(err.message)),
    );
  }
});

Deno.test("metrics answers carry partial success in protobuf and JSON", () => {
  const Response = proto.collector.metrics.v1.ExportMetricsServiceResponse;
  const none = Response.toObject(Response.decode(encodeMetricsResponse(0)), { longs: String });
  assert.deepEqual(none, {});
  const some = Response.toObject(Response.decode(encodeMetricsResponse(3, "why")), {
    longs: String,
  });
  assert.deepEqual(some, { partialSuccess: { rejectedDataPoints: "3", errorMessage: "why" } });
  assert.deepEqual(metricsJsonResponse(3, "why"), {
    partialSuccess: { rejectedDataPoints: "3", errorMessage: "why" },
  });
});

const SID = "spf00000042@hf0123456789abcdef";

function logsRequest(records: Record<string, unknown>[]) {
  return {
    resourceLogs: [{
      resource: { attributes: attrs({ "service.name": "core-workflow" }) },
      scopeLogs: [{ scope: { name: "loguru" }, logRecords: records }],
    }],
  };
}

Deno.test("a log record becomes a zero-length span named after its severity, linked by sid", () => {
  const record = {
    timeUnixNano: T1,
    observedTimeUnixNano: T1,
    severityNumber: 17,
    severityText: "ERROR",
    body: { stringValue: "Timeout: 读取超时" },
    attributes: attrs({ sid: SID, code: 20204 }),
    traceId: "5b8efff798038103d269b633813fc60c",
    spanId: "eee19b7ec3c1b174",
  };
  const d = decodeLogsJson(
    logsRequest([record, {
      ...record,
      severityNumber: 9,
      severityText: "",
      body: { stringValue: "ok" },
      traceId: "",
      spanId: "",
    }]),
  );
  assert.equal(d.rejected, 0);
  const [err, info] = d.spans;
  assert.equal(err.name, "ERROR");
  assert.equal(err.trace_id, "5b8efff798038103d269b633813fc60c", "the record's trace");
  assert.equal(err.parent_span_id, "eee19b7ec3c1b174", "under the span it was written in");
  assert.notEqual(err.span_id, "eee19b7ec3c1b174", "never the real span's id");
  assert.match(err.span_id, /^[0-9a-f]{16}$/);
  assert.equal(err.start_time_unix_nano, T1);
  assert.equal(err.end_time_unix_nano, T1);
  assert.deepEqual(err.attributes, {
    sid: SID,
    code: 20204,
    "otlp.signal": "log",
    "log.severity_number": 17,
  });
  assert.deepEqual(err.events, [{
    name: "ERROR",
    time_unix_nano: T1,
    attributes: { "ERROR LOG": "Timeout: 读取超时", error: true },
  }]);
  assert.equal(err.status.code, 2);
  assert.equal(err.resource["service.name"], "core-workflow");
  assert.equal(err.scope.name, "loguru");
  assert.equal(info.name, "INFO", "named from the severity number without text");
  assert.deepEqual(info.events[0].attributes, { "INFO LOG": "ok" });
  assert.equal(info.status.code, 0);
  assert.match(info.trace_id, /^[0-9a-f]{32}$/, "a trace derived from the sid");
  assert.equal(info.parent_span_id, "");
  const again = decodeLogsJson(logsRequest([record]));
  assert.equal(again.spans[0].span_id, err.span_id, "the same record sent again keeps its id");
  const other = decodeLogsJson(logsRequest([{ ...record, body: { stringValue: "another" } }]));
  assert.notEqual(other.spans[0].span_id, err.span_id);
});

Deno.test("log records decode alike from protobuf and JSON; a bad one is refused alone", () => {
  const json = logsRequest([
    {
      timeUnixNano: T1,
      severityNumber: 13,
      severityText: "WARNING",
      body: { kvlistValue: { values: attrs({ a: 1 }) } },
      attributes: attrs({ sid: SID }),
    },
    { timeUnixNano: T1, traceId: "abcd", body: { stringValue: "bad trace id" } },
  ]);
  const bytes = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(json)).finish();
  const fromJson = decodeLogsJson(JSON.parse(JSON.stringify(json)), 0);
  // protobuf carries ids as bytes: "abcd" read as base64 is 3 bytes, refused alike
  const fromProto = decodeLogsProtobuf(bytes, 0);
  assert.equal(fromJson.rejected, 1);
  assert.match(fromJson.error ?? "", /logRecords\[1\]\.traceId: expected 16 bytes as hex/);
  assert.equal(fromProto.rejected, 1);
  assert.deepEqual(fromProto.spans, fromJson.spans);
  assert.equal(fromJson.spans[0].name, "WARNING");
  assert.deepEqual(fromJson.spans[0].events[0].attributes, { "WARNING LOG": { a: 1 } });
});

Deno.test("a log record without a time takes the time it was received", () => {
  const d = decodeLogsJson(logsRequest([{ body: { stringValue: "x" } }]), 1_767_225_600_123);
  assert.equal(d.spans[0].start_time_unix_nano, "1767225600123000000");
  assert.equal(d.spans[0].name, "LOG");
  assert.throws(() => decodeLogsProtobuf(new Uint8Array([0x0a, 0x05, 0x01])), OtlpError);
  assert.throws(() => decodeLogsJson("x"), OtlpError);
});

Deno.test("severity numbers name their range", () => {
  assert.deepEqual([0, 1, 5, 9, 12, 13, 17, 21, 24, 25].map(severityName), [
    "LOG",
    "TRACE",
    "DEBUG",
    "INFO",
    "INFO",
    "WARN",
    "ERROR",
    "FATAL",
    "FATAL",
    "LOG",
  ]);
  const Response = proto.collector.trace.v1.ExportTraceServiceResponse;
  assert.ok(Response, "the generated root is loaded");
  assert.ok(encodeLogsResponse(2, "x").length > 0);
});

Deno.test("google.rpc.Status in protobuf reads back as code and message", () => {
  // ExportTracePartialSuccess (int64 = 1, string = 2) has Status's wire shape.
  const Shape = proto.collector.trace.v1.ExportTracePartialSuccess;
  for (
    const [code, message] of [
      [3, "body: not valid"],
      [16, "wrong bearer token"],
      [14, "x".repeat(300)],
      [0, ""],
      [8, "读取超时"],
    ] as const
  ) {
    const o = Shape.toObject(Shape.decode(encodeStatus(code, message)), {
      longs: Number,
      defaults: true,
    });
    assert.deepEqual(o, { rejectedSpans: code, errorMessage: message });
  }
  assert.equal(grpcMessage("ok: 100% 读"), "ok: 100%25 %E8%AF%BB");
});

/** `kvlistValue`s nested `n` deep around a string. */
function nested(n: number): unknown {
  let v: unknown = { stringValue: "bottom" };
  for (let i = 0; i < n; i++) v = { kvlistValue: { values: [{ key: `k${i}`, value: v }] } };
  return v;
}

/** A length-delimited field `field` around `bytes`. */
function field(num: number, bytes: Uint8Array): Uint8Array {
  const len: number[] = [];
  for (let n = bytes.length;; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  const out = new Uint8Array(1 + len.length + bytes.length);
  out[0] = (num << 3) | 2;
  out.set(len, 1);
  out.set(bytes, 1 + len.length);
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
};

Deno.test("the direct metrics reader answers as protobufjs' objects read through the JSON form's checks, refusals and messages alike", () => {
  const big = "18446744073709551615"; // 2^64 - 1: past a JavaScript number
  const requests: unknown[] = [
    platformMetrics(),
    {
      resourceMetrics: [{
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: "工作流服务" } },
            { key: "pid", value: { intValue: "-42" } },
            { key: "ok", value: { boolValue: true } },
            { key: "ratio", value: { doubleValue: 0.25 } },
            {
              key: "tags",
              value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: 7 }] } },
            },
            {
              key: "kv",
              value: { kvlistValue: { values: [{ key: "k", value: { stringValue: "v" } }] } },
            },
            { key: "long text", value: { stringValue: "x".repeat(100) + "é" } },
          ],
          droppedAttributesCount: 2,
          entityRefs: [{ type: "service", idKeys: ["service.name"] }],
        },
        scopeMetrics: [{
          scope: {
            name: "m",
            version: "1",
            attributes: [{ key: "a", value: { stringValue: "b" } }],
          },
          schemaUrl: "https://opentelemetry.io/schemas/1.27.0",
          metrics: [
            {
              name: "g",
              gauge: {
                dataPoints: [
                  { timeUnixNano: big, asInt: "-9223372036854775808", flags: 1 },
                  {
                    timeUnixNano: "1",
                    asDouble: -0.5,
                    exemplars: [{ asDouble: 1, timeUnixNano: "2" }],
                  },
                ],
              },
            },
            {
              name: "h",
              unit: "ms",
              histogram: {
                aggregationTemporality: 1,
                dataPoints: [{
                  startTimeUnixNano: "1",
                  timeUnixNano: big,
                  count: "9007199254740993",
                  sum: 12.5,
                  min: 0,
                  max: 9,
                  bucketCounts: ["1", "0", big],
                  explicitBounds: [1.5, 10],
                }],
              },
            },
            { name: "e", exponentialHistogram: { dataPoints: [{}, {}] } },
            { name: "s", summary: { dataPoints: [{}] } },
          ],
        }],
      }],
    },
  ];
  const point = (extra: Record<string, unknown>) => ({ timeUnixNano: "1", asInt: "1", ...extra });
  requests.push({
    resourceMetrics: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
      scopeMetrics: [{
        metrics: [
          { gauge: { dataPoints: [point({})] } }, // no name: its points refused
          { name: "t0", sum: { dataPoints: [point({}), point({})] } }, // no temporality
          { name: "t9", sum: { aggregationTemporality: 9, dataPoints: [point({})] } },
          { name: "none" }, // no data: nothing refused
          {
            name: "points",
            sum: {
              aggregationTemporality: 2,
              isMonotonic: true,
              dataPoints: [
                { timeUnixNano: "1" }, // no value
                { timeUnixNano: "1", flags: 1 }, // no value, and flagged so: skipped
                point({ attributes: [{ key: "deep", value: nested(17) }] }), // too deep
                point({ attributes: [{ key: "deep", value: nested(16) }] }), // deep enough
                point({
                  attributes: [{ key: "dup", value: { intValue: 1 } }, {
                    key: "dup",
                    value: { stringValue: "2" },
                  }],
                }),
                point({
                  asDouble: Infinity,
                  attributes: [{ key: "nan", value: { doubleValue: NaN } }],
                }),
                point({
                  attributes: [{ key: "empty", value: {} }, {
                    key: "bytes",
                    value: { bytesValue: new Uint8Array([1, 2, 250]) },
                  }, { key: "big", value: { intValue: "9007199254740993" } }],
                }),
              ],
            },
          },
          {
            name: "hist",
            histogram: {
              aggregationTemporality: 1,
              dataPoints: [
                { bucketCounts: ["1", "2"], explicitBounds: [1, 2] }, // one count short
                { bucketCounts: ["1", "2", "3"], explicitBounds: [2, 1] }, // not increasing
                {
                  bucketCounts: ["1", "2", "3"],
                  explicitBounds: [1, 2],
                  attributes: [{ key: "d", value: nested(20) }],
                },
                { count: "3", bucketCounts: [], explicitBounds: [] },
              ],
            },
          },
          {
            name: "both",
            gauge: { dataPoints: [point({})] },
            sum: { aggregationTemporality: 1, dataPoints: [point({ asInt: "5" })] },
          },
        ],
      }],
    }],
  });
  // Only the first refusal is named: a temporality of -1 (a 10-byte varint) on its own.
  requests.push({
    resourceMetrics: [{
      scopeMetrics: [{
        metrics: [{ name: "t", sum: { aggregationTemporality: -1, dataPoints: [point({})] } }],
      }],
    }],
  });
  // A resource attribute nested too deep refuses the whole request.
  requests.push({
    resourceMetrics: [{ resource: { attributes: [{ key: "r", value: nested(18) }] } }],
  });

  const throughJson = (bytes: Uint8Array) =>
    decodeMetricsJson(MetricsRequest.toObject(MetricsRequest.decode(bytes), TO_OBJECT));
  const outcome = (read: () => unknown) => {
    try {
      return { ok: read() };
    } catch (err) {
      return { error: `${(err as Error).name}: ${(err as Error).message}` };
    }
  };
  const encoded = requests.map((r) => MetricsRequest.encode(MetricsRequest.fromObject(r)).finish());

  // Fields out of the order protobufjs writes them: a metric's name after its
  // points, a resource after its scopes (protobuf allows any order).
  const Metric = proto.metrics.v1.Metric;
  const ResourceMetrics = proto.metrics.v1.ResourceMetrics;
  const ScopeMetrics = proto.metrics.v1.ScopeMetrics;
  const metric = concat(
    Metric.encode(
      Metric.fromObject({ sum: { aggregationTemporality: 2, dataPoints: [point({})] } }),
    ).finish(),
    Metric.encode(Metric.fromObject({ name: "late name", unit: "1" })).finish(),
  );
  const scope = concat(
    field(2, metric),
    ScopeMetrics.encode(ScopeMetrics.fromObject({ scope: { name: "late scope" } })).finish(),
  );
  const resource = concat(
    field(2, scope),
    ResourceMetrics.encode(ResourceMetrics.fromObject({
      resource: { attributes: [{ key: "service.name", value: { stringValue: "late" } }] },
    })).finish(),
  );
  encoded.push(field(1, resource));
  // A field given twice: protobufjs keeps the last (a scope whole, an attribute's value).
  const twice = concat(
    ScopeMetrics.encode(ScopeMetrics.fromObject({ scope: { name: "a", version: "1" } })).finish(),
    ScopeMetrics.encode(ScopeMetrics.fromObject({
      scope: { name: "b" },
      metrics: [{ name: "\uFEFFbom", gauge: { dataPoints: [point({})] } }],
    })).finish(),
  );
  const KeyValue = proto.common.v1.KeyValue;
  const kv = concat(
    KeyValue.encode(KeyValue.fromObject({ key: "k", value: nested(20) })).finish(),
    KeyValue.encode(KeyValue.fromObject({ value: { stringValue: "ok" } })).finish(),
  );
  const NumberDataPoint = proto.metrics.v1.NumberDataPoint;
  const pointTwice = concat(
    NumberDataPoint.encode(NumberDataPoint.fromObject(point({}))).finish(),
    field(7, kv),
  );
  const gauge = field(5, field(1, pointTwice)); // Metric.gauge.dataPoints[0]
  const named = concat(Metric.encode(Metric.fromObject({ name: "twice" })).finish(), gauge);
  encoded.push(field(1, field(2, concat(twice, field(2, named)))));

  for (const bytes of encoded) {
    const ours = outcome(() => decodeMetricsProtobuf(bytes));
    assert.deepStrictEqual(ours, outcome(() => throughJson(bytes)));
    // Cut anywhere, it is refused whole, never read half.
    for (const cut of [1, 2, 7, bytes.length >> 1, bytes.length - 1]) {
      assert.throws(
        () => decodeMetricsProtobuf(bytes.subarray(0, cut)),
        (err: Error) =>
          err instanceof OtlpError && /not an OTLP ExportMetricsServiceRequest/.test(err.message),
        `cut at ${cut}`,
      );
    }
  }
  const late = decodeMetricsProtobuf(encoded.at(-2)!);
  assert.equal(late.metrics[0].name, "late name");
  assert.equal(late.metrics[0].service, "late");
  assert.equal(late.metrics[0].scope.name, "late scope");
  assert.equal(late.metrics[0].points.length, 1);
  const both = decodeMetricsProtobuf(encoded.at(-1)!);
  assert.deepEqual(both.metrics[0].scope, { name: "b", version: "" });
  assert.equal(both.metrics[0].name, "\uFEFFbom", "a byte-order mark is kept");
  assert.deepEqual(both.metrics[1].points[0].attributes, { k: "ok" });
  // Groups nested past 100 are refused as protobufjs refuses them, not a stack overflow.
  assert.throws(
    () => decodeMetricsProtobuf(new Uint8Array(300_000).fill(0x13)),
    (err: Error) => err instanceof OtlpError && /max depth exceeded/.test(err.message),
  );
  const many = decodeMetricsProtobuf(encoded.at(-5)!);
  assert.ok(many.rejected >= 8, `refusals counted: ${many.rejected}`);
});
