/**
 * `astron-watch check`: validate the config and print every problem with its path.
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import { type ConfigProblem, formatProblem } from "../config/reader.ts";
import type { BackupJob } from "../config/backups.ts";
import { errorMessage } from "../errors.ts";
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
    const unwritable = await unwritableBackupDirs(loaded.config.backups);
    for (const p of unwritable) err(formatProblem(p));
    if (unwritable.length) return EXIT.usage;
    const where = loaded.source.kind === "file" ? loaded.source.path : "built-in defaults";
    const n = loaded.config.probes.length;
    out(`${where}: ok (${n} probe${n === 1 ? "" : "s"})\n`);
    return EXIT.ok;
  },
};

/** Each backup job's `dir` and `copy_to` that cannot be written (tried with a file, removed at once). */
async function unwritableBackupDirs(jobs: readonly BackupJob[]): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  for (const [i, job] of jobs.entries()) {
    for (const key of ["dir", "copy_to"] as const) {
      const dir = job[key];
      if (!dir) continue;
      const why = await notWritable(dir);
      if (why) {
        problems.push({ path: `backups[${i}].${key}`, message: `${dir} is not writable: ${why}` });
      }
    }
  }
  return problems;
}

/** Why `dir` (or, when missing, the nearest directory above it, where it would be made) cannot take a file. */
async function notWritable(dir: string): Promise<string | undefined> {
  let at = dir;
  for (;;) {
    try {
      const st = await Deno.stat(at);
      if (!st.isDirectory) return `${at} is not a directory`;
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) return errorMessage(err);
      const up = at.replace(/\/[^/]*$/, "") || "/";
      if (up === at) return errorMessage(err);
      at = up;
    }
  }
  try {
    const probe = await Deno.makeTempFile({ dir: at, prefix: ".astron-watch-check-" });
    await Deno.remove(probe);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
