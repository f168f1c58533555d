/**
 * `astron-watch service print|install`: the hardened systemd unit, printed or
 * installed with its user, directories and a starter config.
 *
 * @module
 */

import { DEFAULT_LAYOUT, type ServiceLayout, serviceUnit } from "../service/unit.ts";
import { installService } from "../service/install.ts";
import { errorMessage } from "../errors.ts";
import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE = `usage: astron-watch service print [--bin PATH] [--user NAME]
       astron-watch service install [--bin PATH] [--user NAME] [--root DIR]

print     prints the systemd unit
install   writes /etc/systemd/system/astron-watch.service, creates the system
          user, ${DEFAULT_LAYOUT.dataDir} and ${DEFAULT_LAYOUT.logDir} owned by it,
          and ${DEFAULT_LAYOUT.configPath} (starter config, if missing);
          then prints the systemctl lines to run

options:
  --bin PATH    the installed binary (default ${DEFAULT_LAYOUT.bin})
  --user NAME   the service user (default ${DEFAULT_LAYOUT.user})
  --root DIR    install under DIR instead of / (staging; no user is created)
  -h, --help    show this help
`;

/** The `service` command. */
export const serviceCommand: Command = {
  name: "service",
  summary: "print or install the hardened systemd unit",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      bin: { type: "string" },
      user: { type: "string" },
      root: { type: "string" },
    }, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [action = "print", ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const user = values.user ?? DEFAULT_LAYOUT.user;
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
      throw new UsageError(`--user: ${JSON.stringify(user)} is not a valid user name`);
    }
    const layout: ServiceLayout = {
      ...DEFAULT_LAYOUT,
      bin: values.bin ?? DEFAULT_LAYOUT.bin,
      user,
    };
    if (action === "print") {
      if (values.root !== undefined) throw new UsageError("--root goes with install");
      out(serviceUnit(layout));
      return EXIT.ok;
    }
    if (action !== "install") throw new UsageError(`unknown action "${action}" (print | install)`);
    try {
      await installService(layout, values.root ?? "/", out);
    } catch (e) {
      err(`astron-watch service install: ${errorMessage(e)}`);
      return EXIT.failure;
    }
    return EXIT.ok;
  },
};
