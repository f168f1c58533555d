import assert from "node:assert/strict";
import { cli, tempDir } from "./support/agent.ts";
import { type Availability, run, serverTest, which } from "./support/servers.ts";

function locateSystemdAnalyze(): Availability<string> {
  const bin = which("systemd-analyze");
  return bin
    ? { ok: true, value: bin }
    : { ok: false, reason: "no systemd-analyze on PATH: apt-get install systemd" };
}

serverTest(
  "systemd-analyze security rates the printed unit's exposure below 2.0",
  locateSystemdAnalyze(),
  async (bin) => {
    const printed = await cli(["service", "print"]);
    assert.equal(printed.code, 0, printed.stderr);
    await using dir = await tempDir();
    const unit = `${dir.path}/astron-watch.service`;
    await Deno.writeTextFile(unit, printed.stdout);
    // --offline: judge the file itself, without a running systemd.
    const report = await run(bin, ["security", "--offline=yes", "--no-pager", unit]);
    const level = /Overall exposure level for astron-watch\.service: (\d+(?:\.\d+)?)/.exec(report);
    assert.ok(level, `no overall exposure level in:\n${report}`);
    assert.ok(Number(level[1]) < 2.0, `exposure ${level[1]}:\n${report}`);
    // What the agent needs stays allowed: its network (and netlink for its own
    // address), and V8's JIT (no MemoryDenyWriteExecute).
    assert.match(printed.stdout, /^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK$/m);
    assert.doesNotMatch(printed.stdout, /^MemoryDenyWriteExecute=/m);
    assert.doesNotMatch(printed.stdout, /^PrivateNetwork=/m);
  },
);
