/**
 * From a span in normal form ({@linkcode SpanRecord}) to its row: linked to
 * a run by its `sid` attribute (or its resource's), times in epoch ms.
 *
 * @module
 */

import type { SpanRecord } from "../otlp/traces.ts";
import type { SpansTable } from "./schema.ts";
import { SID_PATTERN } from "../workflow/record.ts";
import { noNul } from "./rows.ts";

const ms = (ns: string): number => Number(BigInt(ns) / 1_000_000n);

/** The row of `span`, received at `now` (epoch ms). */
export function spanRow(span: SpanRecord, now: number): SpansTable {
  const sidValue = span.attributes.sid ?? span.resource.sid;
  const sid = typeof sidValue === "string" && SID_PATTERN.test(sidValue) ? sidValue : "";
  const service = span.resource["service.name"];
  return {
    trace_id: span.trace_id,
    span_id: span.span_id,
    parent_span_id: span.parent_span_id,
    sid,
    name: noNul(span.name),
    service_name: typeof service === "string" ? noNul(service) : "",
    start_time: ms(span.start_time_unix_nano),
    end_time: ms(span.end_time_unix_nano),
    status_code: span.status.code,
    received_at: now,
    record: JSON.stringify(span),
  };
}
