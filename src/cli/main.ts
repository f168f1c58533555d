/**
 * The command line: find the subcommand, run it, turn any mistake into one
 * line on stderr and the right exit code (SPEC §2). No stack traces.
 *
 * Each command's module is imported only when that command runs, so
 * `version` and `--help` load none of them, and `check` does not load the
 * store, the API or OpenTelemetry.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import { errorMessage } from "../errors.ts";
import { type Command, err, EXIT, out, UsageError } from "./command.ts";
import { GRPC_CHILD_COMMAND } from "../otlp/child_command.ts";

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

/** A subcommand as the command list shows it; its module is loaded when it runs. */
export interface CommandEntry {
  name: string;
  /** One line for the command list (the same as the loaded command's `summary`). */
  summary: string;
  /** Import the command's module. */
  load(): Promise<Command>;
}

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "run",
    summary: "run the agent until SIGTERM/SIGINT",
    load: async () => (await import("./run.ts")).runCommand,
  },
  {
    name: "check",
    summary: "validate the config; print every problem with its path",
    load: async () => (await import("./check.ts")).checkCommand,
  },
  {
    name: "probe",
    summary: "one probe now, phases printed like curl -w; exit 0 up, 1 down",
    load: async () => (await import("./probe.ts")).probeCommand,
  },
  {
    name: "traces",
    summary: "query the trace store: list, show SID, stats",
    load: async () => (await import("./traces.ts")).tracesCommand,
  },
  {
    name: "services",
    summary: "platform services heard from over OTLP: requests, errors, latency",
    load: async () => (await import("./services.ts")).servicesCommand,
  },
  {
    name: "metrics",
    summary: "query platform metrics received over OTLP",
    load: async () => (await import("./metrics.ts")).metricsCommand,
  },
  {
    name: "alerts",
    summary: "list alerts and their history, silence them, test a channel, export to Prometheus",
    load: async () => (await import("./alerts.ts")).alertsCommand,
  },
  {
    name: "backup",
    summary: "database backups: now JOB, list, verify FILE, restore FILE --to URL",
    load: async () => (await import("./backup.ts")).backupCommand,
  },
  {
    name: "access-log",
    summary: "analyse nginx access logs: report FILE... as text, json or html",
    load: async () => (await import("./access_log.ts")).accessLogCommand,
  },
  {
    name: "housekeeping",
    summary: "keep log directories within their budget now (--dry-run: print the plan)",
    load: async () => (await import("./housekeeping.ts")).housekeepingCommand,
  },
  {
    name: "logs",
    summary: "pipe stdin lines into a rotating log file",
    load: async () => (await import("./logs.ts")).logsCommand,
  },
  {
    name: "init",
    summary: "write a starter config",
    load: async () => (await import("./init.ts")).initCommand,
  },
  {
    name: "service",
    summary: "print or install the hardened systemd unit",
    load: async () => (await import("./service.ts")).serviceCommand,
  },
  { name: "version", summary: versionCommand.summary, load: () => Promise.resolve(versionCommand) },
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
  // The agent's own OTLP/gRPC process (otlp_receiver.grpc), not a command for people.
  if (name === GRPC_CHILD_COMMAND) {
    return await (await import("../otlp/grpc_child.ts")).runGrpcChild();
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    err(`astron-watch: unknown command "${name}" (see astron-watch --help)`);
    return EXIT.usage;
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`astron-watch ${entry.name}: ${e.message} (see astron-watch ${entry.name} --help)`);
      return EXIT.usage;
    }
    err(`astron-watch ${entry.name}: ${errorMessage(e)}`);
    if (Deno.env.get("ASTRON_WATCH_DEBUG")) console.error(e);
    return EXIT.failure;
  }
}
