/**
 * `astron-watch check`: validate the config and print every problem with its path.
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import { Command, err, EXIT, out, parseFlags } from "./command.ts";

const USAGE = `usage: astron-watch check [--config FILE]

Validates the config (YAML, \${VAR} expansion, every key and value) and
prints each problem as one line naming its path, like
  probes[2].timeout: "fast" is not a duration (like 500ms, 15s, 1h, 7d)

Warnings (a config that is valid but probably not meant, like a token whose
\${VAR} is unset) are printed on stderr and do not change the exit code.

Exit codes: 0 valid, 2 any problem.

options:
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present,
                      else the built-in defaults)
  -h, --help          show this help
`;

/** The `check` command. */
export const checkCommand: Command = {
  name: "check",
  summary: "validate the config; print every problem with its path",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: "string", short: "c" } });
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const loaded = await loadConfig({ path: values.config });
    if (!loaded.ok) {
      for (const p of loaded.problems) err(formatProblem(p));
      return EXIT.usage;
    }
    const where = loaded.source.kind === "file" ? loaded.source.path : "built-in defaults";
    const n = loaded.config.probes.length;
    out(`${where}: ok (${n} probe${n === 1 ? "" : "s"})\n`);
    return EXIT.ok;
  },
};
