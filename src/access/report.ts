/**
 * `access-log report`: read nginx access logs (plain, `.gz`, or stdin) in one
 * pass and build the v1 report.
 *
 * @module
 */

import { AccessAggregate, type AggregateOptions } from "./aggregate.ts";
import { compileLogFormat, emptyLine } from "./log_format.ts";
import { readFrom } from "../tail/follower.ts";
import { LineSplitter } from "../tail/lines.ts";
import type { AccessReport } from "./report_schema.ts";

/** Options for {@linkcode buildReport}. */
export interface ReportOptions extends AggregateOptions {
  /** Files to read; `-` is stdin. */
  files: string[];
  /** The `log_format` text. */
  format: string;
  maxLine?: number;
}

/** Read every file and build the report. Throws on an unreadable file or a bad format (its message names it). */
export async function buildReport(o: ReportOptions): Promise<AccessReport> {
  const compiled = compileLogFormat(o.format);
  if (!compiled.ok) throw new Error(compiled.error);
  const parser = compiled.parser;
  const agg = new AccessAggregate(o);
  const line = emptyLine();
  for (const file of o.files) {
    const splitter = new LineSplitter(o.maxLine ?? 16 * 1024);
    const take = (lines: string[]) => {
      for (const l of lines) {
        if (l === "") continue;
        if (parser.parse(l, line)) agg.add(line, l);
        else agg.unparsed(l);
      }
    };
    for await (const chunk of chunks(file)) take(splitter.push(chunk).lines);
    take(splitter.end());
    agg.lines.cut += splitter.cut;
    agg.lines.binary += splitter.binary;
  }
  return agg.report(o.files, o.format);
}

async function* chunks(file: string): AsyncGenerator<Uint8Array> {
  if (file === "-") {
    yield* stdinChunks();
    return;
  }
  let gz = file.endsWith(".gz");
  if (!gz) {
    using f = await Deno.open(file);
    const magic = new Uint8Array(2);
    gz = (await f.read(magic)) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  }
  const size = gz ? 0 : (await Deno.stat(file)).size;
  yield* readFrom(file, gz, 0, size, 4 * 1024 * 1024);
}

/** Stdin, gunzipped when it starts with gzip's magic (`cat access.log.2.gz | ...`). */
async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  const reader = Deno.stdin.readable.getReader();
  const first = await reader.read();
  if (first.done) return;
  const rest = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(first.value);
    },
    async pull(c) {
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
  });
  const gz = first.value[0] === 0x1f && first.value[1] === 0x8b;
  const stream = gz
    ? rest.pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : rest;
  for await (const chunk of stream) yield chunk;
}
