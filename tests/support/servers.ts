/**
 * Test support for real servers (PostgreSQL now; nginx, Redis, promtool
 * later). A server is found through one environment variable or on PATH,
 * and started as a throwaway instance on loopback where that is possible.
 * When it cannot be had, the tests that need it are skipped with the reason,
 * except under `CI=true`, where that is a failure: CI runs everything.
 */

/** True when running in CI, where no test may be skipped for a missing server. */
export const IN_CI = Deno.env.get("CI") === "true";

/** What a test needs: a server it can use, or why there is none. */
export type Availability<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Register a test that needs a server. Where the server is missing the test
 * is skipped (and the reason printed), or fails under `CI=true`.
 */
export function serverTest<T>(
  name: string,
  available: Availability<T>,
  fn: (value: T, t: Deno.TestContext) => Promise<void>,
): void {
  if (!available.ok && !IN_CI) {
    console.log(`skipped "${name}": ${available.reason}`);
  }
  Deno.test({
    name,
    ignore: !available.ok && !IN_CI,
    async fn(t) {
      if (!available.ok) {
        throw new Error(`needs a server that is missing (CI runs everything): ${available.reason}`);
      }
      await fn(available.value, t);
    },
  });
}

/** Run a command to its end; throws with its stderr on failure. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${dec.decode(out.stderr).trim()}`,
    );
  }
  return dec.decode(out.stdout);
}

/** Find an executable on PATH (or the extra directories given). */
export function which(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A free TCP port on loopback (bound and released at once). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Wait until `port` accepts a connection (or the process exits, or `timeoutMs` pass). */
export async function waitForPort(
  port: number,
  exited: Promise<Deno.CommandStatus>,
  timeoutMs = 5000,
): Promise<void> {
  let gone: Deno.CommandStatus | undefined;
  exited.then((s) => gone = s);
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (gone) throw new Error(`exited with code ${gone.code}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

/** Options for {@linkcode startDaemon}. */
export interface DaemonOptions {
  /** What to call it in errors. */
  name: string;
  cmd: string;
  args: string[];
  /** The loopback port it will listen on. */
  port: number;
  /** Its own directory, removed when it stops. */
  dir: string;
  /** Its log file, quoted when it fails to start. */
  log: string;
}

/**
 * Start a server process in the foreground and wait until its port accepts
 * connections; returns the function that stops it and removes its directory.
 */
export async function startDaemon(o: DaemonOptions): Promise<() => Promise<void>> {
  const child = new Deno.Command(o.cmd, {
    args: o.args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(o.dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitForPort(o.port, child.status);
  } catch (err) {
    const log = await Deno.readTextFile(o.log).catch(() => "");
    await stop();
    throw new Error(`${o.name} did not start: ${(err as Error).message}\n${log}`);
  }
  return stop;
}

/** A loopback TCP server for probe targets; closed, with every connection, on dispose. */
export interface TcpServer extends AsyncDisposable {
  port: number;
}

/** A fake service's side of one connection: talk, then return (the connection is closed after). */
export type ConnHandler = (conn: Deno.Conn) => Promise<void>;

/**
 * Start a TCP server on a free loopback port: `silent` accepts and never
 * answers (a hung service), `closing` accepts and closes at once (a port
 * that is open), and a {@linkcode ConnHandler} plays a fake service.
 */
export function tcpServer(mode: "silent" | "closing" | ConnHandler): TcpServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = new Set<Deno.Conn>();
  const handling = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      if (mode === "silent") held.add(conn);
      else if (mode === "closing") conn.close();
      else {
        held.add(conn);
        const done: Promise<void> = mode(conn).catch(() => {}).finally(() => {
          if (held.delete(conn)) conn.close();
          handling.delete(done);
        });
        handling.add(done);
      }
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const c of held) c.close();
      held.clear();
      await Promise.all(handling);
    },
  };
}

/**
 * A fake Redis that refuses `AUTH` as a server without passwords does,
 * quoting the password back: ``-ERR unknown command `AUTH`, with args
 * beginning with: `<password>`, ``. It answers `PING` with `+PONG`.
 */
export function echoingRedis(): TcpServer {
  return tcpServer(async (conn) => {
    const dec = new TextDecoder();
    const enc = new TextEncoder();
    const buf = new Uint8Array(4096);
    let text = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      text += dec.decode(buf.subarray(0, n), { stream: true });
      // RESP arrays of bulk strings: *N, then $len and the argument, N times.
      for (;;) {
        const command = takeCommand(text);
        if (!command) break;
        text = text.slice(command.used);
        const [name, ...args] = command.args;
        const reply = name.toUpperCase() === "PING"
          ? "+PONG\r\n"
          : `-ERR unknown command \`${name}\`, with args beginning with: ${
            args.map((a) => `\`${a}\`, `).join("")
          }\r\n`;
        await conn.write(enc.encode(reply));
      }
    }
  });
}

function takeCommand(text: string): { args: string[]; used: number } | undefined {
  const lines = text.split("\r\n");
  const count = /^\*(\d+)$/.exec(lines[0])?.[1];
  if (count === undefined || lines.length < 1 + 2 * Number(count) + 1) return undefined;
  const args: string[] = [];
  for (let i = 0; i < Number(count); i++) args.push(lines[2 + 2 * i]);
  const used = lines.slice(0, 1 + 2 * Number(count)).join("\r\n").length + 2;
  return { args, used };
}

/** A small tmpfs can be mounted here (root, and mount allowed). */
export function tmpfsAvailable(): Availability<true> {
  if (Deno.uid() !== 0) return { ok: false, reason: "mounting a tmpfs needs root" };
  const dir = Deno.makeTempDirSync({ prefix: "astron-watch-tmpfs-probe-" });
  try {
    const m = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir] })
      .outputSync();
    if (!m.success) return { ok: false, reason: "mount -t tmpfs is not allowed here" };
    new Deno.Command("umount", { args: [dir] }).outputSync();
    return { ok: true, value: true };
  } catch {
    return { ok: false, reason: "no mount command" };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
