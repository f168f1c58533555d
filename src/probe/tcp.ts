/**
 * The `tcp` probe: connect, optionally read a banner.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { ProbeConfig } from "../config/schema.ts";
import { type ProbeContext, type ProbeResult, since } from "./types.ts";

/** Probe a TCP `host:port`: phases `connect` and `total`; checks `expect.banner` when set. */
export async function tcpProbe(config: ProbeConfig, ctx: ProbeContext): Promise<ProbeResult> {
  const started_at = Date.now();
  const t0 = performance.now();
  const { host, port } = config.target!;
  let conn: Deno.TcpConn | undefined;
  const onAbort = () => conn?.close();
  try {
    conn = await Deno.connect({ hostname: host, port, signal: ctx.signal });
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const connect = since(t0);
    const banner = config.expect.banner;
    if (banner !== undefined) {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      const text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
      if (!text.includes(banner)) {
        const phases = { connect, total: since(t0) };
        return {
          ok: false,
          reason: `banner does not contain ${JSON.stringify(banner)}`,
          phases,
          started_at,
        };
      }
    }
    return { ok: true, phases: { connect, total: since(t0) }, started_at };
  } catch (err) {
    return { ok: false, reason: errorMessage(err), phases: { total: since(t0) }, started_at };
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    try {
      conn?.close();
    } catch {
      // already closed by the abort
    }
  }
}
