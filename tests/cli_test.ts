import assert from "node:assert/strict";
import { serviceUnit } from "../src/service/unit.ts";
import { cli, ROOT, tempDir } from "./support/agent.ts";

Deno.test("version prints the version from deno.json", async () => {
  const { version } = JSON.parse(await Deno.readTextFile(ROOT + "deno.json"));
  const r = await cli(["version"]);
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    new RegExp(`^astron-watch ${version.replaceAll(".", "\\.")} \\(deno [\\d.]+\\)\\n$`),
  );
  assert.equal((await cli(["--version"])).stdout, r.stdout);
});

Deno.test("every command answers --help with its usage and exit 0", async (t) => {
  for (const command of ["run", "check", "probe", "traces", "logs", "init", "service", "version"]) {
    await t.step(`${command} --help`, async () => {
      const r = await cli([command, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^usage: astron-watch ${command}`));
      assert.equal(r.stderr, "");
    });
  }
  const top = await cli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^ {2}run +run the agent until SIGTERM\/SIGINT$/m);
});

Deno.test("usage mistakes are one line on stderr and exit 2", async (t) => {
  const cases: [string[], string][] = [
    [[], ""],
    [["frobnicate"], 'astron-watch: unknown command "frobnicate" (see astron-watch --help)'],
    [
      ["run", "--bogus"],
      "astron-watch run: Unknown option '--bogus' (see astron-watch run --help)",
    ],
    [
      ["check", "--config"],
      "astron-watch check: Option '-c, --config <value>' argument missing (see astron-watch check --help)",
    ],
    [
      ["service", "restart"],
      'astron-watch service: unknown action "restart" (print | install) (see astron-watch service --help)',
    ],
    [
      ["version", "extra"],
      'astron-watch version: unexpected argument "extra" (see astron-watch version --help)',
    ],
  ];
  for (const [args, line] of cases) {
    await t.step(`astron-watch ${args.join(" ") || "(nothing)"}`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 2);
      if (line) assert.equal(r.stderr, line + "\n");
    });
  }
});

Deno.test("init writes a starter config that check accepts, and never overwrites without --force", async () => {
  await using dir = await tempDir();
  const first = await cli(["init"], { cwd: dir.path });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^wrote \.\/astron-watch\.yaml/);
  const check = await cli(["check"], { cwd: dir.path });
  assert.equal(check.code, 0, check.stderr);
  await Deno.writeTextFile(`${dir.path}/astron-watch.yaml`, "# mine\n");
  const again = await cli(["init"], { cwd: dir.path });
  assert.equal(again.code, 1);
  assert.equal(
    again.stderr,
    "astron-watch init: ./astron-watch.yaml exists; use --force to overwrite it\n",
  );
  assert.equal(await Deno.readTextFile(`${dir.path}/astron-watch.yaml`), "# mine\n");
  const forced = await cli(["init", "--force"], { cwd: dir.path });
  assert.equal(forced.code, 0);
  const stdout = await cli(["init", "-o", "-"]);
  assert.match(stdout.stdout, /^server:\n {2}listen: 127\.0\.0\.1:9477/m);
});

Deno.test("service print gives the hardened unit, the same as deploy/astron-watch.service", async () => {
  const r = await cli(["service", "print"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, await Deno.readTextFile(ROOT + "deploy/astron-watch.service"));
  for (
    const line of [
      "User=astron-watch",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/lib/astron-watch /var/log/astron-watch",
      "NoNewPrivileges=yes",
      "Restart=on-failure",
      "TimeoutStopSec=30s",
      "ExecReload=/bin/kill -HUP $MAINPID",
    ]
  ) assert.match(r.stdout, new RegExp(`^${line.replace(/[$/]/g, "\\$&")}$`, "m"));
  const custom = await cli(["service", "print", "--bin", "/opt/aw/astron-watch", "--user", "aw"]);
  assert.equal(
    custom.stdout,
    serviceUnit({
      bin: "/opt/aw/astron-watch",
      user: "aw",
      configPath: "/etc/astron-watch/astron-watch.yaml",
      dataDir: "/var/lib/astron-watch",
      logDir: "/var/log/astron-watch",
    }),
  );
});

Deno.test("service install stages the unit, directories and a valid config under --root", async () => {
  await using dir = await tempDir();
  const r = await cli(["service", "install", "--root", dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /systemctl daemon-reload\n {2}systemctl enable --now astron-watch/);
  assert.match(r.stdout, /useradd --system --user-group/);
  const unit = await Deno.readTextFile(`${dir.path}/etc/systemd/system/astron-watch.service`);
  assert.equal(unit, serviceUnit());
  assert.ok((await Deno.stat(`${dir.path}/var/lib/astron-watch`)).isDirectory);
  assert.ok((await Deno.stat(`${dir.path}/var/log/astron-watch`)).isDirectory);
  const config = `${dir.path}/etc/astron-watch/astron-watch.yaml`;
  assert.match(await Deno.readTextFile(config), /dir: \/var\/log\/astron-watch/);
  const check = await cli(["check", "--config", config]);
  assert.equal(check.code, 0, check.stderr);
  const again = await cli(["service", "install", "--root", dir.path]);
  assert.match(again.stdout, /^kept .*astron-watch\.yaml \(exists\)$/m);
});
