/**
 * `astron-watch logs pipe`: stdin lines into a rotating file, for any
 * program's output (the job of Apache's `rotatelogs` or runit's `svlogd`),
 * keeping every line whole across rotations.
 *
 * The copying is {@linkcode pipeStdin} (src/log/stdin_pipe.ts); this file
 * parses the flags and reports.
 *
 * @module
 */

import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";
import { parseDuration, parseSize } from "../config/units.ts";
import { RotatingFileSink } from "../log/rotating_file_sink.ts";
import { pipeStdin } from "../log/stdin_pipe.ts";

const USAGE = `usage: astron-watch logs pipe --file PATH [--max-size 10MB] [--keep N] [--compress]
                              [--flush-interval 1s] [--max-age 7d]

Reads lines from stdin and writes them to PATH, rotating by size: PATH.1 is
the newest rotated file, PATH.N the oldest (PATH.N.gz with --compress). No
line is split across files; an incomplete last line gets a newline. On EOF,
SIGTERM or SIGINT everything read is written and it exits 0 (1 if lines were
lost to a failing disk). SIGHUP reopens PATH (after logrotate moved it).

options:
  --file PATH            the log file (required); its directory is created
  --max-size SIZE        rotate before PATH would pass SIZE (default 10MB; 0: never)
  --keep N               rotated files to keep (default 10)
  --compress             gzip rotated files to PATH.N.gz
  --flush-interval DUR   write buffered lines at least this often (default 1s)
  --max-age DUR          remove rotated files older than DUR (default: keep by count only)
`;

/** `logs pipe`. */
export const logsCommand: Command = {
  name: "logs",
  summary: "pipe stdin lines into a rotating log file",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      file: { type: "string" },
      "max-size": { type: "string" },
      keep: { type: "string" },
      compress: { type: "boolean" },
      "flush-interval": { type: "string" },
      "max-age": { type: "string" },
    }, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [sub, ...extra] = positionals;
    if (sub !== "pipe") {
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : "missing subcommand: pipe");
    }
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (!values.file) throw new UsageError("--file is required");
    const flushInterval = durationFlag("--flush-interval", values["flush-interval"], 1000);
    if (flushInterval < 1) throw new UsageError("--flush-interval: must be more than 0");
    const sink = new RotatingFileSink({
      path: values.file,
      maxSize: sizeFlag("--max-size", values["max-size"], 10_000_000),
      keep: countFlag("--keep", values.keep, 10),
      compress: values.compress ?? false,
      flushInterval,
      maxAge: durationFlag("--max-age", values["max-age"], 0),
      syncWrites: true,
    });
    const readError = await pipeStdin(sink);
    const { dropped_lines, last_error } = sink.stats();
    if (readError) err(`astron-watch logs: reading stdin: ${readError}`);
    if (dropped_lines > 0) {
      err(`astron-watch logs: ${dropped_lines} lines lost; last error: ${last_error ?? "none"}`);
    }
    return readError || dropped_lines > 0 ? EXIT.failure : EXIT.ok;
  },
};

function sizeFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const bytes = parseSize(text);
  if (bytes === undefined) {
    throw new UsageError(`${name}: expected a size like "10MB", got "${text}"`);
  }
  return bytes;
}

function durationFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new UsageError(`${name}: expected a duration like "1s", got "${text}"`);
  }
  return ms;
}

function countFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name}: expected a whole number, got "${text}"`);
  return Number(text);
}
