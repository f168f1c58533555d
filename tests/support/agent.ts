/**
 * Test support: spawn the real agent (`main.ts` with exactly the permissions
 * of `deno task start`) and talk to it over HTTP, signals and its log lines.
 */

import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The entry point. */
export const MAIN = ROOT + "main.ts";

/** The permission and V8 flags of `deno task start`, so tests run the agent as users do. */
export function startFlags(): string[] {
  const denoJson = JSON.parse(Deno.readTextFileSync(ROOT + "deno.json"));
  const task: string = denoJson.tasks.start;
  return task.split(/\s+/).filter((a) => a.startsWith("--allow-") || a.startsWith("--v8-flags="));
}

/** The result of running a command to its end. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `astron-watch <args>` to completion. */
export async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<CliResult> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...startFlags(), MAIN, ...args],
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A log line the agent wrote (JSON), with the raw text. */
export type LogLine = Record<string, unknown> & { msg?: string; raw: string };

/** A running agent process. */
export class AgentProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: LogLine[] = [];
  #waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  #reader: Promise<void>;
  #stdout: Promise<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
  port = 0;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.#reader = this.#readStderr();
    this.#stdout = new Response(child.stdout).bytes();
    this.status = child.status;
  }

  async #readStderr(): Promise<void> {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of this.child.stderr) {
      buf += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const raw = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: LogLine;
        try {
          line = { ...JSON.parse(raw), raw };
        } catch {
          line = { raw };
        }
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.pred(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    }
  }

  /** Wait for a log line matching `pred` (seen already or to come), up to `ms`. */
  waitForLine(pred: (l: LogLine) => boolean, ms = 10_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no matching log line within ${ms}ms; got:\n${this.text()}`));
      }, ms);
      this.#waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** Everything written to stderr so far. */
  text(): string {
    return this.lines.map((l) => l.raw).join("\n");
  }

  /** `fetch` a path on the agent's API. */
  fetch(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.port}${path}`, init);
  }

  /** Send a signal. */
  kill(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Wait for the process to exit; returns its exit code and everything it wrote. */
  async exit(): Promise<{ code: number; stderr: string; stdout: string }> {
    const status = await this.status;
    await this.#reader;
    const stdout = new TextDecoder().decode(await this.#stdout);
    return { code: status.code, stderr: this.text(), stdout };
  }

  /** Kill (if still running) and release everything. */
  async close(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.exit();
  }
}

/** Options for {@linkcode spawnAgent}. */
export interface SpawnOptions {
  /** Config file to pass with `--config`. */
  config?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Wait for the "listening" line and learn the port (default true). */
  waitListening?: boolean;
}

/** Spawn `astron-watch run` and (by default) wait until it listens. */
export async function spawnAgent(options: SpawnOptions = {}): Promise<AgentProcess> {
  const args = ["run", "--quiet", ...startFlags(), MAIN, "run"];
  if (options.config) args.push("--config", options.config);
  // The agent keeps its data and logs relative to its working directory: the config's, by default.
  const cwd = options.cwd ??
    (options.config ? options.config.slice(0, options.config.lastIndexOf("/")) : undefined);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const agent = new AgentProcess(child);
  if (options.waitListening ?? true) {
    try {
      const line = await agent.waitForLine((l) => l.msg === "listening", 15_000);
      agent.port = Number(String(line.addr).split(":").pop());
    } catch (err) {
      await agent.close();
      throw err;
    }
  }
  return agent;
}

/** A fresh temporary directory, removed by the returned function. */
export async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "astron-watch-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
