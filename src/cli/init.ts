/**
 * `astron-watch init`: write a starter config.
 *
 * @module
 */

import { starterConfig } from "../config/starter.ts";
import {
  COMPOSE_NETWORK,
  type ComposeLayout,
  configFromEnv,
  type FromEnvResult,
  LAYOUT_COMMIT,
  parseDotEnv,
} from "../config/from_env.ts";
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { errorMessage } from "../errors.ts";
import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE =
  `usage: astron-watch init [--from-env PATH/.env [--host HOST] [--layout new|old]] [--output FILE] [--force]

Writes a starter config with every section and its defaults. With --from-env,
reads the platform's .env and writes one probe per service it names (nginx,
console, core-*, MinIO, PostgreSQL, MySQL, Redis, Kafka when enabled), with the
health paths and timeouts of the platform's compose healthchecks and its
HEALTH_CHECK_INTERVAL. Passwords are written as \${VAR} references, never copied.

Two compose layouts are known: "new" (d2fbe22) publishes only nginx and MinIO
on the host, "old" (d0f978e) publishes every service. The .env tells them
apart: any EXPOSE_<SERVICE>_PORT for a core, console or middleware service
(EXPOSE_CORE_WORKFLOW_PORT, EXPOSE_MYSQL_PORT, ...) means old, none means new.

Without --host, services keep their compose names (core-workflow:7880), for an
agent attached to the compose network astron-agent-network. With --host, they
are probed at HOST on the ports the layout publishes, for an agent on the host.
A probe whose target the layout does not publish says so in a comment.

options:
  --from-env FILE     the platform's .env (docker/astronAgent/.env)
  --host HOST         probe the published ports at HOST (say 127.0.0.1) instead of compose names
  --layout new|old    the compose layout, instead of detecting it from the .env
  -o, --output FILE   where to write it (default ./astron-watch.yaml; "-" for stdout)
  -f, --force         overwrite an existing file
  -h, --help          show this help
`;

/** The `init` command. */
export const initCommand: Command = {
  name: "init",
  summary: "write a starter config",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, {
      output: { type: "string", short: "o" },
      force: { type: "boolean", short: "f" },
      "from-env": { type: "string" },
      host: { type: "string" },
      layout: { type: "string" },
    });
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const envPath = values["from-env"];
    if (values.host !== undefined && envPath === undefined) {
      throw new UsageError("--host goes with --from-env");
    }
    if (values.host !== undefined && !/^[A-Za-z0-9.:-]+$/.test(values.host)) {
      throw new UsageError(`--host: ${JSON.stringify(values.host)} is not a host name or address`);
    }
    if (values.layout !== undefined && envPath === undefined) {
      throw new UsageError("--layout goes with --from-env");
    }
    if (values.layout !== undefined && !Object.hasOwn(LAYOUT_COMMIT, values.layout)) {
      throw new UsageError(`--layout: expected new or old, got ${JSON.stringify(values.layout)}`);
    }
    const layout = values.layout as ComposeLayout | undefined;
    let text = starterConfig();
    let written: FromEnvResult | undefined;
    if (envPath !== undefined) {
      let envText: string;
      try {
        envText = await Deno.readTextFile(envPath);
      } catch (e) {
        err(`astron-watch init: cannot read ${envPath}: ${errorMessage(e)}`);
        return EXIT.usage;
      }
      const parsed = parseDotEnv(envText);
      if (!parsed.ok) {
        err(`astron-watch init: ${envPath}:${parsed.line}: ${parsed.message}`);
        return EXIT.usage;
      }
      written = configFromEnv(parsed.vars, { source: envPath, host: values.host, layout });
      text = written.text;
    }
    const path = values.output ?? DEFAULT_CONFIG_PATH;
    if (path === "-") {
      out(text);
      return EXIT.ok;
    }
    try {
      await Deno.writeTextFile(path, text, { createNew: !values.force });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        err(`astron-watch init: ${path} exists; use --force to overwrite it`);
        return EXIT.failure;
      }
      err(`astron-watch init: cannot write ${path}: ${errorMessage(e)}`);
      return EXIT.failure;
    }
    if (written) out(summary(written));
    out(`wrote ${path}; check it with: astron-watch check --config ${path}\n`);
    return EXIT.ok;
  },
};

/** One line on what `--from-env` decided: the layout, and the probes only the network reaches. */
function summary({ layout, networkOnly }: FromEnvResult): string {
  const where = networkOnly.length === 0
    ? ""
    : `; ${networkOnly.length} probe${
      networkOnly.length === 1 ? "" : "s"
    } reach only inside ${COMPOSE_NETWORK} (${networkOnly.join(", ")}): see the comments`;
  return `compose layout ${layout.layout} (${
    LAYOUT_COMMIT[layout.layout]
  }), ${layout.reason}${where}\n`;
}
