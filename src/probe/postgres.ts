/**
 * The `postgres` probe: `SELECT 1` through postgres.js, as `pg_isready` plus
 * a real query: the server is up, accepts these credentials, and answers.
 *
 * @module
 */

import net from "node:net";
import postgres from "postgres";
import type { ProbeConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import {
  abortCode,
  abortWord,
  bareHostname,
  errorCode,
  ProbeError,
  resolveHost,
  type RunClock,
} from "./conn.ts";
import { answered } from "./expect.ts";
import { type ProbeCode, type ProbeContext, type ProbeResult, since } from "./types.ts";

/**
 * Probe a `postgres://user:pass@host:port/db` URL with a one-connection
 * client that is closed after the run (or the moment the signal aborts).
 * Phases: `dns` (names only) and `connect` (the TCP handshake, on a socket
 * the probe opens and hands to postgres.js), then `total` through startup,
 * authentication and `SELECT 1`. `?sslmode=require` etc. are honoured by
 * postgres.js. Reasons carry the server's message, never the password.
 */
export async function postgresProbe(config: ProbeConfig, ctx: ProbeContext): Promise<ProbeResult> {
  const started_at = Date.now();
  const clock: RunClock = { t0: performance.now(), phases: {} };
  const { signal } = ctx;
  let socket: net.Socket | undefined;
  let sql: postgres.Sql | undefined;
  // Ending the client (not destroying its socket first) rejects the pending
  // query without postgres.js reconnecting; the socket is destroyed after.
  const onAbort = () => void sql?.end({ timeout: 0 }).catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const url = new URL(config.url!);
    const host = bareHostname(url);
    const port = url.port ? Number(url.port) : 5432;
    const address = await resolveHost(host, clock, signal);
    socket = await connectSocket(address, port, host, clock, signal);
    const s = socket;
    let handed = false;
    // `socket` (a ready connection) is a postgres.js option its types leave out.
    const options: postgres.Options<Record<string, never>> & { socket: () => net.Socket } = {
      max: 1,
      connect_timeout: Math.max(1, Math.ceil(config.timeout / 1000)),
      idle_timeout: 0,
      max_lifetime: null,
      prepare: false,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "astron-watch" },
      // One connection per run: a hang-up during startup is the answer, not a retry.
      socket: () => {
        if (handed || s.destroyed || s.readyState !== "open") {
          throw new ProbeError("reset", "the server closed the connection during startup");
        }
        handed = true;
        return s;
      },
    };
    sql = postgres(config.url!, options);
    if (signal.aborted) throw signal.reason;
    await sql`SELECT 1`;
    return answered(config.expect, clock, started_at);
  } catch (err) {
    const [code, reason] = signal.aborted
      ? [
        abortCode(signal),
        `${abortWord(signal)} ${clock.phases.connect === undefined ? "connecting" : "in SELECT 1"}`,
      ]
      : [pgCode(err), describe(err)];
    return {
      ok: false,
      code,
      reason,
      phases: { ...clock.phases, total: since(clock.t0) },
      started_at,
    };
  } finally {
    signal.removeEventListener("abort", onAbort);
    await sql?.end({ timeout: 0 }).catch(() => {});
    socket?.destroy();
  }
}

/** A connected socket to `address:port`; `connect` recorded on the clock. */
function connectSocket(
  address: string,
  port: number,
  servername: string,
  clock: RunClock,
  signal: AbortSignal,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const where = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      socket.removeListener("connect", onConnect);
      socket.removeListener("error", onError);
    };
    const onConnect = () => {
      done();
      clock.phases.connect = since(clock.t0);
      socket.setNoDelay(true);
      // postgres.js names the TLS server (SNI) after `socket.host`.
      (socket as net.Socket & { host?: string }).host = servername;
      resolve(socket);
    };
    const onError = (err: Error) => {
      done();
      socket.destroy();
      reject(new ProbeError(errorCode(err, "connect"), `connecting to ${where}: ${err.message}`));
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(signal.reason);
    };
    socket.once("connect", onConnect);
    socket.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The code of a failed run: `auth` for SQLSTATE class 28 (invalid
 * authorization), `refused`/`reset`/... for the socket's errors, `error`
 * for any other server error.
 */
function pgCode(err: unknown): ProbeCode {
  const e = err as { code?: unknown; severity?: unknown } | null;
  if (e && typeof e.severity === "string" && typeof e.code === "string") {
    return e.code.startsWith("28") ? "auth" : "error";
  }
  return errorCode(err, "error");
}

/** The server's message (with its SQLSTATE code) or the client's, in one line. */
function describe(err: unknown): string {
  if (err instanceof ProbeError) return err.message;
  if (err && typeof err === "object" && "code" in err) {
    const e = err as { code?: string; message?: string; severity?: string };
    const msg = errorMessage(err);
    if (e.severity && e.code) return `${msg} (SQLSTATE ${e.code})`;
    if (e.code && e.code !== msg && !msg.includes(e.code)) return `${msg} (${e.code})`;
    return msg;
  }
  return errorMessage(err);
}
