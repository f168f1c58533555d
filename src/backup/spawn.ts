/**
 * Running one engine tool: its stdout handed to the caller as a stream (a
 * dump) or collected (a query), stdin fed from a stream (a restore), stderr
 * kept to name the failure in the tool's own words, and a time limit after
 * which the tool is stopped (SIGTERM, then SIGKILL).
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { ToolCommand } from "./tools.ts";

/** How a tool run ended. */
export interface ToolRun {
  ok: boolean;
  /** Collected stdout (when the caller did not take it). */
  stdout: string;
  /** Why it failed: the tool's last error line, a signal, the time limit, or the caller's own error. */
  error?: string;
}

/** Options for {@linkcode runTool}. */
export interface RunOptions {
  /** Longest the tool may run, ms. */
  timeout: number;
  /** Fed to the tool's stdin (closed at its end). */
  stdin?: ReadableStream<Uint8Array>;
  /** Takes the tool's stdout; a throw stops the tool and fails the run with its message. */
  stdout?: (out: ReadableStream<Uint8Array>) => Promise<void>;
}

const STDERR_KEEP = 16 * 1024;

/** Run `c`; never throws. */
export async function runTool(c: ToolCommand, o: RunOptions): Promise<ToolRun> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(c.cmd, {
      args: c.args,
      env: c.env,
      stdin: o.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? `${c.cmd} not found on PATH`
      : `${c.cmd}: ${errorMessage(err)}`;
    return { ok: false, stdout: "", error: why };
  }
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    killTimer ??= setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
  };
  const limit = setTimeout(() => {
    timedOut = true;
    stop();
  }, Math.min(o.timeout, 2 ** 31 - 1));
  const stderr = collect(child.stderr, STDERR_KEEP);
  let callerError: string | undefined;
  const feeding = o.stdin
    ? o.stdin.pipeTo(child.stdin).catch((err) => {
      // The tool stopped reading (it failed): its own error line says why.
      if (err instanceof Deno.errors.BrokenPipe) return;
      callerError ??= errorMessage(err);
      stop();
    })
    : Promise.resolve();
  let stdout = "";
  const reading = o.stdout
    ? o.stdout(child.stdout).catch(async (err) => {
      callerError ??= errorMessage(err);
      stop();
      await child.stdout.cancel().catch(() => {});
    })
    : collect(child.stdout, 64 * 1024 * 1024).then((t) => {
      stdout = t;
    });
  const [status] = await Promise.all([child.status, reading, feeding]);
  clearTimeout(limit);
  clearTimeout(killTimer);
  const errText = await stderr;
  if (callerError) return { ok: false, stdout, error: callerError };
  if (timedOut) {
    return { ok: false, stdout, error: `${c.cmd} stopped: no end within ${o.timeout}ms` };
  }
  if (status.success) return { ok: true, stdout };
  const line = lastLine(errText);
  const how = status.signal ? `killed by ${status.signal}` : `exited with ${status.code}`;
  return {
    ok: false,
    stdout,
    error: line ? `${line} (${toolName(c)} ${how})` : `${toolName(c)} ${how}`,
  };
}

/** The tool's name as a person would say it (`pg_dump`, not `docker`). */
function toolName(c: ToolCommand): string {
  if (c.cmd !== "docker") return c.cmd;
  const i = c.args.findIndex((a, n) => n > 1 && !a.startsWith("-") && c.args[n - 1] !== "-e");
  return c.args[i + 1] ?? "docker";
}

/** The last line that says something (warnings about a deprecated name are skipped). */
function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) =>
    l && !/deprecated program name|^mysqldump: Deprecated/i.test(l)
  );
  return lines.at(-1) ?? "";
}

async function collect(stream: ReadableStream<Uint8Array>, keep: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      parts.push(chunk);
      size += chunk.length;
      while (size - parts[0].length > keep) size -= parts.shift()!.length;
    }
  } catch {
    // the tool went away; what came is enough
  }
  const all = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new TextDecoder().decode(all.length > keep ? all.subarray(all.length - keep) : all);
}
