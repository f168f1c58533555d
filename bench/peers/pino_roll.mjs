// Peer for bench/log_sink.ts: stdin lines into pino-roll's rotating stream,
// one write per line (as pino writes records), honouring backpressure.
// usage: node pino_roll.mjs FILE
import { once } from "node:events";

// Imported by name at run time: Node finds it in bench/peers/node_modules,
// and `deno check bench/` does not try to resolve it.
const peer = "pino-roll";
const { default: roll } = await import(peer);

const file = process.argv[2];
const stream = await roll({ file, size: "10m", limit: { count: 100 }, mkdir: true });
process.stdin.setEncoding("utf8");
let carry = "";
for await (const chunk of process.stdin) {
  const lines = (carry + chunk).split("\n");
  carry = lines.pop();
  for (const line of lines) {
    if (!stream.write(line + "\n")) await once(stream, "drain");
  }
}
if (carry) stream.write(carry + "\n");
stream.end();
await once(stream, "close");
