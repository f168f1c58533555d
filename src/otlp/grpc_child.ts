/**
 * The OTLP/gRPC listener's own process (started by the agent, see
 * `grpc_isolated.ts`): grpc-js's server on `grpc_listen`, handing each call's
 * message to the agent over a loopback bridge. Under Deno 2.9.6 that server
 * can abort its whole process when clients close their connections
 * (denoland/deno#36788); here that ends this process, which the agent
 * restarts, and never the agent.
 *
 * It reads its settings from {@linkcode CHILD_ENV}, prints one JSON line on
 * stdout (`{"port": N}`, or `{"error", "code"}` when it cannot listen), and
 * stops on SIGTERM or when the agent goes (its stdin closes).
 *
 * @module
 */

import type { HostPort } from "../config/reader.ts";
import { Logger } from "../log/logger.ts";
import { StderrSink } from "../log/stderr_sink.ts";
import { errorMessage } from "../errors.ts";
import type { Decoded, Signal } from "./signals.ts";
import { type CallOrigin, GrpcFailure, type GrpcIntake, serveGrpc } from "./grpc_server.ts";
import type { TakeResult } from "./intake.ts";
import { GrpcStatus } from "./rpc_status.ts";

import { CHILD_ENV, GRPC_CHILD_COMMAND } from "./child_command.ts";

/** The settings the agent hands over. */
export interface ChildSettings {
  listen: HostPort;
  maxMessage: number;
  /** The agent's bridge: `http://127.0.0.1:PORT`. */
  bridge: string;
  /** Sent with every bridge request, so no other local process can use it. */
  secret: string;
  graceMs: number;
}

/** Bridge answers as gRPC statuses. */
const STATUS_OF: Record<number, number> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  503: GrpcStatus.UNAVAILABLE,
};

/** The intake as seen from this process: each call goes to the agent, which decides and answers. */
class BridgeIntake implements GrpcIntake {
  constructor(readonly settings: ChildSettings) {}

  now(): number {
    return Date.now();
  }

  refuse(signal: Signal, _transport: string, result: string): void {
    fetch(`${this.settings.bridge}/refuse/${signal}/${result}`, {
      method: "POST",
      headers: { "x-bridge-secret": this.settings.secret },
    }).then((r) => r.body?.cancel(), () => {});
  }

  async take(
    decoded: Decoded,
    _transport: "grpc",
    request: Uint8Array,
    origin: CallOrigin,
  ): Promise<TakeResult> {
    const headers: Record<string, string> = {
      "x-bridge-secret": this.settings.secret,
      "content-type": "application/x-protobuf",
    };
    if (origin.address !== undefined) headers["x-otlp-address"] = origin.address;
    if (origin.authorization !== undefined) headers["x-otlp-authorization"] = origin.authorization;
    let res: Response;
    try {
      res = await fetch(`${this.settings.bridge}/take/${decoded.signal}`, {
        method: "POST",
        headers,
        body: request as Uint8Array<ArrayBuffer>,
      });
    } catch (err) {
      throw new GrpcFailure(
        GrpcStatus.UNAVAILABLE,
        `the agent is not reachable: ${errorMessage(err)}`,
      );
    }
    const body = await res.json().catch(() => ({}));
    if (res.ok) return body as TakeResult;
    throw new GrpcFailure(
      STATUS_OF[res.status] ?? GrpcStatus.INTERNAL,
      String(body.message ?? `the agent answered ${res.status}`),
    );
  }
}

/** Every call is let through here: the agent decides access from the call's origin. */
const LET_THROUGH = { check: () => ({ ok: true as const }) };

/** Run the listener until SIGTERM or the agent goes; the exit code. */
export async function runGrpcChild(): Promise<number> {
  const text = Deno.env.get(CHILD_ENV);
  if (!text) {
    console.error(`astron-watch ${GRPC_CHILD_COMMAND}: started by the agent, not by hand`);
    return 2;
  }
  const settings: ChildSettings = JSON.parse(text);
  const logger = new Logger({ sinks: [new StderrSink()], fields: { component: "otlp_grpc" } });
  let server;
  try {
    server = await serveGrpc({
      listen: settings.listen,
      maxMessage: settings.maxMessage,
      intake: new BridgeIntake(settings),
      access: LET_THROUGH,
      logger,
    });
  } catch (err) {
    console.log(
      JSON.stringify({ error: errorMessage(err), code: (err as { code?: string }).code }),
    );
    return 1;
  }
  console.log(JSON.stringify({ port: server.addr.port }));
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGTERM", resolve);
    (async () => {
      for await (const _ of Deno.stdin.readable) { /* the agent writes nothing */ }
      resolve();
    })();
  });
  await server.shutdown(settings.graceMs);
  return 0;
}
