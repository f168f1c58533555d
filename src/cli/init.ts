/**
 * `astron-watch init`: write a starter config.
 *
 * @module
 */

import { starterConfig } from "../config/starter.ts";
import { configFromEnv, parseDotEnv } from "../config/from_env.ts";
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { errorMessage } from "../errors.ts";
import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE =
  `usage: astron-watch init [--from-env PATH/.env [--host HOST]] [--output FILE] [--force]

Writes a starter config with every section and its defaults. With --from-env,
reads the platform's .env and writes one probe per service it names (nginx,
core-*, MinIO, PostgreSQL, MySQL, Redis, Kafka when enabled), with the
platform's health paths, ports and HEALTH_CHECK_* cadence. Services keep their
compose names (core-workflow:7880) unless --host gives the host that publishes
their ports. Passwords are written as \${VAR} references, never copied.

options:
  --from-env FILE     the platform's .env (docker/astronAgent/.env)
  --host HOST         use HOST (say 127.0.0.1) instead of compose service names
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
    let text = starterConfig();
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
      text = configFromEnv(parsed.vars, { source: envPath, host: values.host });
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
    out(`wrote ${path}; check it with: astron-watch check --config ${path}\n`);
    return EXIT.ok;
  },
};
