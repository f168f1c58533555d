/**
 * `astron-watch logs pipe`: stdin lines into a rotating file.
 *
 * @module
 */

import { Command, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE = `usage: astron-watch logs pipe --file PATH [--max-size 10MB] [--keep N] [--compress]

Reads lines from stdin and writes them to PATH, rotating by size.
`;

/** `logs pipe` (not yet built: the log sink issue brings it). */
export const logsCommand: Command = {
  name: "logs",
  summary: "pipe stdin lines into a rotating log file",
  usage: USAGE,
  run(argv) {
    const { values } = parseFlags(argv, {}, true);
    if (values.help) {
      out(USAGE);
      return Promise.resolve(EXIT.ok);
    }
    throw new UsageError("logs pipe is not built yet");
  },
};
