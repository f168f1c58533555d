/**
 * What every subcommand shares: its shape, exit codes, flag parsing that
 * turns mistakes into one-line usage errors, and stdout/stderr helpers.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { errorMessage } from "../errors.ts";

/** Exit codes (SPEC §2): 0 ok, 1 failure found, 2 usage or config error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** One subcommand of `astron-watch`. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  usage: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** A mistake on the command line: reported as one line, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parse flags with `node:util` `parseArgs`; `--help`/`-h` is always known.
 *
 * @throws {UsageError} on an unknown flag, a missing value or a stray argument.
 */
export function parseFlags<O extends Options>(
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(errorMessage(err).replace(/\. To specify a positional.*$/, ""));
  }
}

const encoder = new TextEncoder();

/** Write text to stdout, whole. */
export function out(text: string): void {
  writeAll(Deno.stdout, text);
}

/** Write one line to stderr. */
export function err(text: string): void {
  writeAll(Deno.stderr, text.endsWith("\n") ? text : text + "\n");
}

function writeAll(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}
