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
import { errorMessage } from "../errors.ts";
import { type GrpcExports, serveGrpc } from "./grpc_server.ts";
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

/**
 * The exports as seen from this process: each message goes, undecoded, to
 * the agent, which decides access, decodes, takes it and sends back the gRPC
 * status (`x-grpc-code`) with the answer or why.
 */
function bridgeExports(settings: ChildSettings): GrpcExports {
  const headers = { "x-bridge-secret": settings.secret };
  return {
    async handle(signal, message, origin) {
      const h: Record<string, string> = { ...headers, "content-type": "application/x-protobuf" };
      if (origin.address !== undefined) h["x-otlp-address"] = origin.address;
      if (origin.authorization !== undefined) h["x-otlp-authorization"] = origin.authorization;
      let res: Response;
      try {
        res = await fetch(`${settings.bridge}/export/${signal}`, {
          method: "POST",
          headers: h,
          body: message as Uint8Array<ArrayBuffer>,
        });
      } catch (err) {
        return {
          code: GrpcStatus.UNAVAILABLE,
          message: `the agent is not reachable: ${errorMessage(err)}`,
        };
      }
      const code = Number(res.headers.get("x-grpc-code") ?? GrpcStatus.INTERNAL);
      if (code === 0) return { code: 0, answer: new Uint8Array(await res.arrayBuffer()) };
      return { code, message: await res.text() };
    },
    refuse(signal, result) {
      fetch(`${settings.bridge}/refuse/${signal}/${result}`, { method: "POST", headers })
        .then((r) => r.body?.cancel(), () => {});
    },
  };
}

/** Run the listener until SIGTERM or the agent goes; the exit code. */
export async function runGrpcChild(): Promise<number> {
  const text = Deno.env.get(CHILD_ENV);
  if (!text) {
    console.error(`astron-watch ${GRPC_CHILD_COMMAND}: started by the agent, not by hand`);
    return 2;
  }
  const settings: ChildSettings = JSON.parse(text);
  let server;
  try {
    server = await serveGrpc({
      listen: settings.listen,
      maxMessage: settings.maxMessage,
      exports: bridgeExports(settings),
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
