/**
 * The test OTLP/gRPC receiver's own process (see `grpcReceiver` in
 * otlp_receiver.ts): `deno run -A grpc_receiver_process.ts PORT` prints
 * `{"port":N}`, then one JSON line per metric point, span and request
 * team; it stops on SIGTERM.
 */

import { serveGrpcInProcess } from "./otlp_receiver.ts";

const out = (v: unknown) => console.log(JSON.stringify(v));
const server = await serveGrpcInProcess(Number(Deno.args[0] ?? 0), out);
out({ port: server.port });
Deno.addSignalListener("SIGTERM", () => {
  server.close().finally(() => Deno.exit(0));
});
