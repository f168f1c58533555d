/**
 * `astron-watch init`: write a starter config.
 *
 * @module
 */

import { starterConfig } from "../config/starter.ts";
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { errorMessage } from "../errors.ts";
import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE = `usage: astron-watch init [--output FILE] [--force]

Writes a starter config with every section and its defaults.

options:
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
    });
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    if (values["from-env"] !== undefined) {
      throw new UsageError("--from-env is not built yet (it comes with the probes issue)");
    }
    const text = starterConfig();
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
