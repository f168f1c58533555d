/**
 * The `redis` probe: RESP over a plain TCP connection, as
 * `redis-cli -a $REDIS_PASSWORD ping` does: `AUTH password` when the probe
 * has a `password`, then `PING`, expecting `+PONG`. The password is sent, never
 * reported: reasons quote only the server's error line.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import {
  abortError,
  ConnReader,
  dial,
  errorCode,
  isAbort,
  type Link,
  ProbeError,
  type RunClock,
} from "./conn.ts";
import { answered } from "./expect.ts";
import { type ProbeContext, type ProbeResult, since } from "./types.ts";

/**
 * Probe a Redis `host:port`: phases `dns` (names only), `connect`,
 * `first_byte` (the first reply), `total`. `AUTH` and `PING` are pipelined
 * in one write; an `AUTH` error (`-WRONGPASS ...`), a `-NOAUTH` answer to
 * `PING`, or anything but `+PONG` is the reason.
 */
export async function redisProbe(config: ProbeConfig, ctx: ProbeContext): Promise<ProbeResult> {
  const started_at = Date.now();
  const clock: RunClock = { t0: performance.now(), phases: {} };
  let link: Link | undefined;
  let step = "connecting";
  try {
    const { host, port } = config.target!;
    ({ link } = await dial(host, port, clock, ctx.signal));
    const commands = config.password !== undefined && config.password !== ""
      ? [["AUTH", config.password], ["PING"]]
      : [["PING"]];
    step = "sending commands";
    await link.writeAll(encodeCommands(commands));
    const reader = new ConnReader(link.conn, () => {
      clock.phases.first_byte = since(clock.t0);
    });
    if (commands.length === 2) {
      step = "waiting for the AUTH reply";
      const auth = await readReply(reader);
      if (auth !== "+OK") throw replyError("AUTH", auth);
    }
    step = "waiting for the PING reply";
    const pong = await readReply(reader);
    if (pong !== "+PONG") throw replyError("PING", pong);
    return answered(config.expect, clock, started_at);
  } catch (caught) {
    let err = caught instanceof ProbeError
      ? caught
      : new ProbeError(errorCode(caught, "error"), `${step}: ${errorMessage(caught)}`);
    if (ctx.signal.aborted && !isAbort(err.code)) err = abortError(ctx.signal, step);
    return {
      ok: false,
      code: err.code,
      reason: err.message,
      phases: { ...clock.phases, total: since(clock.t0) },
      started_at,
    };
  } finally {
    link?.close();
  }
}

/** RESP arrays of bulk strings, one per command. */
function encodeCommands(commands: string[][]): Uint8Array {
  const enc = new TextEncoder();
  const parts: string[] = [];
  for (const args of commands) {
    parts.push(`*${args.length}\r\n`);
    for (const arg of args) parts.push(`$${enc.encode(arg).length}\r\n${arg}\r\n`);
  }
  return enc.encode(parts.join(""));
}

/** One reply's first line (`+OK`, `-ERR ...`, `$5`, ...). */
async function readReply(reader: ConnReader): Promise<string> {
  const line = await reader.line(64 * 1024);
  if (line === null) {
    throw new ProbeError("reset", "the server closed the connection without a reply");
  }
  return line;
}

/** Redis error replies whose first word says the credentials were refused. */
const AUTH_ERRORS = new Set(["WRONGPASS", "NOAUTH", "NOPERM"]);

/**
 * A reply other than the one expected: `-ERR ...` as the server's words
 * (`auth` when its error kind, the first word, is `WRONGPASS`, `NOAUTH` or
 * `NOPERM`, and for any error to `AUTH`), anything else as not Redis.
 */
function replyError(command: "AUTH" | "PING", line: string): ProbeError {
  if (!line.startsWith("-")) {
    return new ProbeError(
      "protocol",
      `${command} failed: unexpected reply ${JSON.stringify(line.slice(0, 80))}`,
    );
  }
  const text = line.slice(1).trim();
  const kind = text.split(" ", 1)[0];
  const code = command === "AUTH" || AUTH_ERRORS.has(kind) ? "auth" : "error";
  return new ProbeError(code, `${command} failed: ${text}`);
}
