/**
 * `astron-watch run`: the agent, until SIGTERM/SIGINT. SIGHUP reloads the
 * config (an invalid one is refused and the old one kept) and reopens logs.
 *
 * @module
 */

import { Agent } from "../agent.ts";
import { type ConfigSource, loadConfig } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import { Logger } from "../log/logger.ts";
import { StderrSink } from "../log/stderr_sink.ts";
import { errorMessage } from "../errors.ts";
import { keepRunning } from "../uncaught.ts";
import { Command, err, EXIT, out, parseFlags } from "./command.ts";

const USAGE = `usage: astron-watch run [--config FILE]

Runs the agent: probes, log sink and HTTP API, until SIGTERM or SIGINT.
SIGHUP reloads the config and reopens the log files.

options:
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present,
                      else the built-in defaults)
  -h, --help          show this help
`;

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "run the agent until SIGTERM/SIGINT",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: "string", short: "c" } });
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const loaded = await loadConfig({ path: values.config });
    if (!loaded.ok) {
      for (const p of loaded.problems) err(`astron-watch run: ${formatProblem(p)}`);
      return EXIT.usage;
    }
    const { config } = loaded;
    const stderr = new StderrSink();
    const logger = new Logger({
      level: config.log.level,
      format: config.log.format,
      sinks: [stderr],
    });
    logger.info("config loaded", { source: describe(loaded.source) });
    keepRunning((e) =>
      logger.error("uncaught error; the agent keeps running", { err: errorMessage(e) })
    );
    const agent = new Agent({ config, logger, stderr });
    // Signals are taken from before the start, so a SIGTERM during start-up still drains.
    const stopped = untilStopped(agent, logger, loaded.source);
    const started = await agent.start();
    if (!started.ok) {
      err(`astron-watch run: ${started.component} failed to start: ${started.error}`);
      await logger.flush();
      return EXIT.failure;
    }
    return await stopped;
  },
};

function describe(source: ConfigSource): string {
  return source.kind === "file" ? source.path : "built-in defaults";
}

/** Serve signals until SIGTERM/SIGINT has drained the agent; resolves to the exit code. */
function untilStopped(agent: Agent, logger: Logger, source: ConfigSource): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let reloading = Promise.resolve();
    const onStop = async (signal: Deno.Signal) => {
      if (stopping) {
        logger.warn("second signal: exiting now", { signal });
        await logger.flush();
        Deno.exit(EXIT.failure);
      }
      stopping = true;
      const deadline = agent.config.server.shutdown_timeout;
      logger.info("stopping", { signal, deadline_ms: deadline });
      await reloading;
      const result = await agent.stop(deadline);
      if (result.ok) logger.info("stopped");
      else logger.error("drain deadline passed", { late: result.late.join(",") });
      await logger.flush();
      for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
      resolve(result.ok ? EXIT.ok : EXIT.failure);
    };
    const onHup = () => {
      if (stopping) return;
      reloading = reloading.then(() => reload(agent, logger, source)).catch((e) =>
        logger.error("reload failed", { err: errorMessage(e) })
      );
    };
    const handlers: [Deno.Signal, () => void][] = [
      ["SIGTERM", () => void onStop("SIGTERM")],
      ["SIGINT", () => void onStop("SIGINT")],
      ["SIGHUP", onHup],
    ];
    for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
  });
}

async function reload(agent: Agent, logger: Logger, source: ConfigSource): Promise<void> {
  // Log files are reopened whatever the config says (logrotate's postrotate sends SIGHUP).
  for (const sink of logger.sinks) await sink.reopen?.();
  const path = source.kind === "file" ? source.path : undefined;
  const loaded = await loadConfig({ path });
  if (!loaded.ok) {
    logger.error("reload refused: the running config is kept", {
      source: describe(loaded.source),
      problems: loaded.problems.map(formatProblem),
    });
    return;
  }
  try {
    await agent.reload(loaded.config);
  } catch (e) {
    logger.error("reload refused: the running config is kept", {
      source: describe(loaded.source),
      problems: [errorMessage(e)],
    });
    return;
  }
  logger.setLevel(loaded.config.log.level);
  logger.setFormat(loaded.config.log.format);
  logger.info("reloaded", {
    source: describe(loaded.source),
    probes: loaded.config.probes.length,
  });
}
