/**
 * The command line: find the subcommand, run it, turn any mistake into one
 * line on stderr and the right exit code (SPEC §2). No stack traces.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import { errorMessage } from "../errors.ts";
import { Command, err, EXIT, out, UsageError } from "./command.ts";
import { runCommand } from "./run.ts";
import { checkCommand } from "./check.ts";
import { initCommand } from "./init.ts";
import { serviceCommand } from "./service.ts";
import { logsCommand } from "./logs.ts";
import { probeCommand } from "./probe.ts";
import { tracesCommand } from "./traces.ts";

const versionCommand: Command = {
  name: "version",
  summary: "print the version",
  usage: "usage: astron-watch version\n\nPrints the version and the Deno runtime it runs on.\n",
  run(argv) {
    if (argv.includes("--help") || argv.includes("-h")) {
      out(this.usage);
      return Promise.resolve(EXIT.ok);
    }
    if (argv.length) throw new UsageError(`unexpected argument "${argv[0]}"`);
    out(`astron-watch ${VERSION} (deno ${Deno.version.deno})\n`);
    return Promise.resolve(EXIT.ok);
  },
};

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  checkCommand,
  probeCommand,
  tracesCommand,
  logsCommand,
  initCommand,
  serviceCommand,
  versionCommand,
];

function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `astron-watch ${VERSION}: the monitoring agent for astron-agent hosts

usage: astron-watch <command> [options]

commands:
${lines.join("\n")}

Run "astron-watch <command> --help" for a command's options.
Exit codes: 0 ok, 1 failure found, 2 usage or config error.
`;
}

/**
 * Run the command line and resolve to the process exit code.
 *
 * @param argv the arguments after the program name.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    out(mainUsage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-V") return versionCommand.run([]);
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`astron-watch: unknown command "${name}" (see astron-watch --help)`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`astron-watch ${command.name}: ${e.message} (see astron-watch ${command.name} --help)`);
      return EXIT.usage;
    }
    err(`astron-watch ${command.name}: ${errorMessage(e)}`);
    if (Deno.env.get("ASTRON_WATCH_DEBUG")) console.error(e);
    return EXIT.failure;
  }
}
