/**
 * Installing the systemd unit: the system user (via `useradd`), the data
 * and log directories owned by it, a starter config kept if present, and
 * the unit file.
 *
 * @module
 */

import { type ServiceLayout, serviceUnit } from "./unit.ts";
import { starterConfig } from "../config/starter.ts";

const UNIT_PATH = "/etc/systemd/system/astron-watch.service";

/**
 * Install the unit, its user, its directories and a starter config under
 * `root` (`/`, or a staging directory where no user is created); `say`
 * gets each line to print, ending in the systemctl lines to run.
 *
 * @throws {Error} when a file cannot be written or `useradd` fails.
 */
export async function installService(
  layout: ServiceLayout,
  root: string,
  say: (text: string) => void,
): Promise<void> {
  const at = (p: string) => root.replace(/\/$/, "") + p;
  const staging = root !== "/";
  let uid: number | undefined;
  let gid: number | undefined;
  if (!staging) {
    const ids = await ensureUser(layout.user, layout.dataDir, say);
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
    say(`wrote ${at(layout.configPath)}\n`);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    say(`kept ${at(layout.configPath)} (exists)\n`);
  }
  await Deno.mkdir(at("/etc/systemd/system"), { recursive: true });
  await Deno.writeTextFile(at(UNIT_PATH), serviceUnit(layout), { mode: 0o644 });
  say(`wrote ${at(UNIT_PATH)}\n`);
  if (staging) {
    say(
      `staged under ${root}; on the target host create the user:\n` +
        `  useradd --system --user-group --home-dir ${layout.dataDir} --shell /usr/sbin/nologin ${layout.user}\n`,
    );
  }
  say(
    `now run:\n  systemctl daemon-reload\n  systemctl enable --now astron-watch\n` +
      `  systemctl status astron-watch\n`,
  );
}

/** Create the system user unless it exists; returns its ids. */
async function ensureUser(
  user: string,
  home: string,
  say: (text: string) => void,
): Promise<{ uid: number; gid: number }> {
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
    say(`created system user ${user}\n`);
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
