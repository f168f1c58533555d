/**
 * OTLP/gRPC in a process of its own (`grpc_child.ts`), so that Deno 2.9.6's
 * HTTP/2 abort (denoland/deno#36788) ends that process and not the agent.
 * The agent keeps the intake, the access rule and the counters: the child
 * hands each call's message to a bridge on a loopback port of the agent's,
 * guarded by a secret, and answers with what the bridge answers. A child that
 * ends without being asked is started again on the same port, after a
 * second (doubling to 30 s while it keeps failing to start).
 *
 * @module
 */

import type { HostPort } from "../config/reader.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import { safeEqual } from "../api/middleware/access.ts";
import { type Signal, SIGNALS } from "./signals.ts";
import type { OtlpIntake } from "./intake.ts";
import type { OtlpAccess } from "./access.ts";
import { type GrpcExports, type GrpcReceiver, localExports } from "./grpc_server.ts";
import type { ChildSettings } from "./grpc_child.ts";
import { CHILD_ENV, GRPC_CHILD_COMMAND } from "./child_command.ts";

/** How long a starting child may take to say where it listens. */
const READY_MS = 15_000;

/** Options for {@linkcode serveGrpcIsolated}. */
export interface IsolatedGrpcOptions {
  listen: HostPort;
  maxMessage: number;
  intake: OtlpIntake;
  access: OtlpAccess;
  logger: Logger;
  /** How long a stopping child may finish the calls in flight. */
  graceMs: number;
}

/** The running listener, and how often its process had to be started again. */
export interface IsolatedGrpcReceiver extends GrpcReceiver {
  restarts(): number;
}

const REFUSALS = new Set<string>(["invalid", "too_large"]);

/**
 * The bridge's answer to one request of the child: an export, decided and
 * taken here ({@linkcode localExports}), its gRPC status in `x-grpc-code`.
 */
async function bridge(req: Request, exports: GrpcExports, secret: string): Promise<Response> {
  if (!safeEqual(req.headers.get("x-bridge-secret") ?? "", secret)) {
    return new Response("not the agent's gRPC process", { status: 403 });
  }
  const [, verb, signalText, result] = new URL(req.url).pathname.split("/");
  const signal = signalText as Signal;
  if (!SIGNALS.includes(signal)) return new Response("no such signal", { status: 404 });
  if (verb === "refuse" && REFUSALS.has(result)) {
    exports.refuse(signal, result as "invalid" | "too_large");
    return new Response(null, { status: 204 });
  }
  if (verb !== "export") return new Response("no such route", { status: 404 });
  const out = await exports.handle(signal, new Uint8Array(await req.arrayBuffer()), {
    address: req.headers.get("x-otlp-address") ?? undefined,
    authorization: req.headers.get("x-otlp-authorization") ?? undefined,
  });
  return "answer" in out
    ? new Response(out.answer as Uint8Array<ArrayBuffer>, { headers: { "x-grpc-code": "0" } })
    : new Response(out.message, { headers: { "x-grpc-code": String(out.code) } });
}

/** How to start the child: the binary itself, or `deno run` of this checkout's `main.ts`. */
function childCommand(): { path: string; args: string[] } {
  if (Deno.build.standalone) return { path: Deno.execPath(), args: [GRPC_CHILD_COMMAND] };
  return {
    path: Deno.execPath(),
    args: [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-env",
      "--allow-sys=hostname,networkInterfaces",
      new URL("../../main.ts", import.meta.url).href,
      GRPC_CHILD_COMMAND,
    ],
  };
}

class Child {
  readonly process: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(settings: ChildSettings) {
    const { path, args } = childCommand();
    this.process = new Deno.Command(path, {
      args,
      env: { [CHILD_ENV]: JSON.stringify(settings) },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.process.stdin.getWriter();
  }

  /** The first line it prints (within {@linkcode READY_MS}): where it listens, or why it cannot. */
  async ready(): Promise<{ port?: number; error?: string; code?: string }> {
    const reader = this.process.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), READY_MS));
    while (!text.includes("\n")) {
      const read = await Promise.race([reader.read(), late]);
      if (!read || read.done) break;
      text += read.value;
    }
    clearTimeout(timer);
    // Anything it prints later is read and dropped.
    (async () => {
      while (!(await reader.read()).done) { /* drained */ }
    })().catch(() => {});
    try {
      return JSON.parse(text.split("\n")[0]);
    } catch {
      return { error: `the gRPC process did not listen within ${READY_MS / 1000} s` };
    }
  }

  async stop(graceMs: number): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch { /* already ended */ }
    const timer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch { /* ended */ }
    }, graceMs + 2_000);
    await this.process.status;
    clearTimeout(timer);
    await this.#stdin.close().catch(() => {});
  }
}

type Started = { child: Child } | { error: string; code?: string };

/**
 * Serve OTLP/gRPC on `o.listen` from a child process.
 *
 * @throws {Error} (rejects) when the child cannot listen; `code` is
 *   `EADDRINUSE` when another process (a collector) holds the address.
 */
export async function serveGrpcIsolated(o: IsolatedGrpcOptions): Promise<IsolatedGrpcReceiver> {
  const secret = crypto.randomUUID();
  const exports = localExports(o);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => bridge(req, exports, secret),
  );
  /** A child listening on `port`, or why none does (a failed one is stopped). */
  const start = async (port: number): Promise<Started & { port?: number }> => {
    let child: Child | undefined;
    try {
      child = new Child({
        listen: { host: o.listen.host, port },
        maxMessage: o.maxMessage,
        bridge: `http://127.0.0.1:${server.addr.port}`,
        secret,
        graceMs: o.graceMs,
      });
      const ready = await child.ready();
      if (ready.port !== undefined) return { child, port: ready.port };
      await child.stop(0);
      return { error: ready.error ?? "the gRPC process did not start", code: ready.code };
    } catch (err) {
      await child?.stop(0);
      return { error: errorMessage(err) };
    }
  };
  const first = await start(o.listen.port);
  if (!("child" in first)) {
    await server.shutdown();
    throw Object.assign(new Error(first.error), { code: first.code });
  }
  let child = first.child;
  const port = first.port!;
  let running = true;
  let restarts = 0;
  let wake = () => {};
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => (clearTimeout(timer), resolve());
    });
  // Watch the listening child; when it ends without being asked, start one again on its port
  // (after 1 s, doubling to 30 s while none will start).
  const watching = (async () => {
    while (running) {
      const status = await child.process.status;
      if (!running) return;
      restarts++;
      o.logger.warn("the OTLP/gRPC process ended; starting it again", {
        code: status.code,
        signal: status.signal,
        restarts,
      });
      for (let wait = 1_000;; wait = Math.min(30_000, wait * 2)) {
        await sleep(wait);
        if (!running) return;
        const again = await start(port);
        if ("child" in again) {
          child = again.child;
          if (!running) return; // shutdown stops it
          o.logger.info("the OTLP/gRPC process listens again", { port });
          break;
        }
        o.logger.warn("the OTLP/gRPC process did not start", { err: again.error });
      }
    }
  })();
  return {
    addr: { host: o.listen.host, port },
    restarts: () => restarts,
    async shutdown(graceMs: number) {
      running = false;
      wake();
      await child.stop(graceMs);
      await watching;
      await child.stop(0); // one the watcher was starting meanwhile (ended ones return at once)
      await server.shutdown();
    },
  };
}
