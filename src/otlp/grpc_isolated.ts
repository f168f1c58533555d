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
import { OtlpError } from "./values.ts";
import { CODECS, type Signal, SIGNALS } from "./signals.ts";
import type { OtlpIntake, RequestResult } from "./intake.ts";
import type { OtlpAccess } from "./access.ts";
import type { GrpcReceiver } from "./grpc_server.ts";
import type { ChildSettings } from "./grpc_child.ts";
import { CHILD_ENV, GRPC_CHILD_COMMAND } from "./child_command.ts";
import { StoreFullError, StoreUnavailableError } from "../store/store.ts";

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

const RESULTS = new Set<string>(["invalid", "too_large", "unauthenticated"]);
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** The bridge's answer to one request of the child. */
async function bridge(req: Request, o: IsolatedGrpcOptions, secret: string): Promise<Response> {
  if (!safeEqual(req.headers.get("x-bridge-secret") ?? "", secret)) {
    return json(403, { message: "not the agent's gRPC process" });
  }
  const [, verb, signalText, result] = new URL(req.url).pathname.split("/");
  const signal = signalText as Signal;
  if (!SIGNALS.includes(signal)) return json(404, { message: "no such signal" });
  if (verb === "refuse" && RESULTS.has(result)) {
    o.intake.refuse(signal, "grpc", result as RequestResult);
    return new Response(null, { status: 204 });
  }
  if (verb !== "take") return json(404, { message: "no such route" });
  const bytes = new Uint8Array(await req.arrayBuffer());
  const decision = o.access.check(
    req.headers.get("x-otlp-address") ?? undefined,
    req.headers.get("x-otlp-authorization") ?? undefined,
  );
  if (!decision.ok) {
    o.intake.refuse(signal, "grpc", "unauthenticated");
    return json(401, { message: decision.message });
  }
  let decoded;
  try {
    decoded = CODECS[signal].decodeProtobuf(bytes, o.intake.now());
  } catch (err) {
    if (!(err instanceof OtlpError)) throw err;
    o.intake.refuse(signal, "grpc", "invalid");
    return json(400, { message: err.message });
  }
  try {
    return json(200, await o.intake.take(decoded, "grpc", bytes));
  } catch (err) {
    if (err instanceof StoreUnavailableError || err instanceof StoreFullError) {
      return json(503, { message: err.message });
    }
    o.logger.error("otlp export failed", { signal, err: errorMessage(err) });
    return json(500, { message: "internal error" });
  }
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

  /** The first line it prints: where it listens, or why it cannot. */
  async ready(): Promise<{ port?: number; error?: string; code?: string }> {
    const reader = this.process.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    // Anything it prints later is read and dropped.
    (async () => {
      while (!(await reader.read()).done) { /* drained */ }
    })().catch(() => {});
    try {
      return JSON.parse(text.split("\n")[0]);
    } catch {
      return { error: "the gRPC process ended before it listened" };
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

/**
 * Serve OTLP/gRPC on `o.listen` from a child process.
 *
 * @throws {Error} (rejects) when the child cannot listen; `code` is
 *   `EADDRINUSE` when another process (a collector) holds the address.
 */
export async function serveGrpcIsolated(o: IsolatedGrpcOptions): Promise<IsolatedGrpcReceiver> {
  const secret = crypto.randomUUID();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => bridge(req, o, secret),
  );
  const settings = (port: number): ChildSettings => ({
    listen: { host: o.listen.host, port },
    maxMessage: o.maxMessage,
    bridge: `http://127.0.0.1:${server.addr.port}`,
    secret,
    graceMs: o.graceMs,
  });
  let child = new Child(settings(o.listen.port));
  const first = await child.ready();
  if (first.port === undefined) {
    await child.stop(0);
    await server.shutdown();
    throw Object.assign(new Error(first.error ?? "the gRPC process did not start"), {
      code: first.code,
    });
  }
  const port = first.port;
  let running = true;
  let restarts = 0;
  // Watch the child; start it again when it ends without being asked.
  const watching = (async () => {
    let wait = 1_000;
    while (running) {
      const status = await child.process.status;
      if (!running) break;
      restarts++;
      o.logger.warn("the OTLP/gRPC process ended; starting it again", {
        code: status.code,
        signal: status.signal,
        restarts,
      });
      await new Promise((r) => setTimeout(r, wait));
      if (!running) break;
      child = new Child(settings(port));
      const again = await child.ready();
      if (again.port === undefined) {
        o.logger.warn("the OTLP/gRPC process did not start", { err: again.error });
        await child.stop(0);
        wait = Math.min(30_000, wait * 2);
      } else {
        o.logger.info("the OTLP/gRPC process listens again", { port });
        wait = 1_000;
      }
    }
  })();
  return {
    addr: { host: o.listen.host, port },
    restarts: () => restarts,
    async shutdown(graceMs: number) {
      running = false;
      await child.stop(graceMs);
      await watching;
      await server.shutdown();
    },
  };
}
