/**
 * `astron-watch service print|install`: the hardened systemd unit, printed or
 * installed with its user, directories and a starter config.
 *
 * @module
 */

import { DEFAULT_LAYOUT, type ServiceLayout, serviceUnit } from "../service/unit.ts";
import { starterConfig } from "../config/starter.ts";
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
      await install(layout, values.root ?? "/");
    } catch (e) {
      err(`astron-watch service install: ${errorMessage(e)}`);
      return EXIT.failure;
    }
    return EXIT.ok;
  },
};

const UNIT_PATH = "/etc/systemd/system/astron-watch.service";

async function install(layout: ServiceLayout, root: string): Promise<void> {
  const at = (p: string) => root.replace(/\/$/, "") + p;
  const staging = root !== "/";
  let uid: number | undefined;
  let gid: number | undefined;
  if (!staging) {
    const ids = await ensureUser(layout.user, layout.dataDir);
    uid = ids.uid;
    gid = ids.gid;
  }
  for (const dir of [layout.dataDir, layout.logDir]) {
    await Deno.mkdir(at(dir), { recursive: true, mode: 0o750 });
    if (uid !== undefined) await Deno.chown(at(dir), uid, gid!);
  }
  const configDir = layout.configPath.slice(0, layout.configPath.lastIndexOf("/"));
  await Deno.mkdir(at(configDir), { recursive: true, mode: 0o755 });
  const config = starterConfig({ logDir: layout.logDir, dataDir: layout.dataDir });
  try {
    await Deno.writeTextFile(at(layout.configPath), config, { createNew: true, mode: 0o640 });
    if (gid !== undefined) await Deno.chown(at(layout.configPath), 0, gid);
    out(`wrote ${at(layout.configPath)}\n`);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    out(`kept ${at(layout.configPath)} (exists)\n`);
  }
  await Deno.mkdir(at("/etc/systemd/system"), { recursive: true });
  await Deno.writeTextFile(at(UNIT_PATH), serviceUnit(layout), { mode: 0o644 });
  out(`wrote ${at(UNIT_PATH)}\n`);
  if (staging) {
    out(
      `staged under ${root}; on the target host create the user:\n` +
        `  useradd --system --user-group --home-dir ${layout.dataDir} --shell /usr/sbin/nologin ${layout.user}\n`,
    );
  }
  out(
    `now run:\n  systemctl daemon-reload\n  systemctl enable --now astron-watch\n` +
      `  systemctl status astron-watch\n`,
  );
}

/** Create the system user unless it exists; returns its ids. */
async function ensureUser(user: string, home: string): Promise<{ uid: number; gid: number }> {
  let ids = await lookupUser(user);
  if (!ids) {
    const args = [
      "--system",
      "--user-group",
      "--home-dir",
      home,
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      user,
    ];
    const result = await new Deno.Command("useradd", { args, stdout: "null", stderr: "piped" })
      .output();
    if (!result.success) {
      throw new Error(`useradd ${user} failed: ${new TextDecoder().decode(result.stderr).trim()}`);
    }
    out(`created system user ${user}\n`);
    ids = await lookupUser(user);
    if (!ids) throw new Error(`user ${user} was created but is not in /etc/passwd`);
  }
  return ids;
}

async function lookupUser(user: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === user) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}
