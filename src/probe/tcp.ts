/**
 * The `tcp` probe: connect, optionally wait for a banner.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import {
  abortCode,
  abortWord,
  ConnReader,
  dial,
  errorCode,
  type Link,
  printable,
  ProbeError,
  type RunClock,
} from "./conn.ts";
import { answered } from "./expect.ts";
import { type ProbeContext, type ProbeResult, since } from "./types.ts";

/** Most banner bytes read while looking for `expect.banner`. */
const MAX_BANNER = 64 * 1024;

/**
 * Probe a TCP `host:port`: phases `dns` (names only), `connect`, and with
 * `expect.banner` also `first_byte`; `total`. The banner is read until its
 * text is seen (anywhere in the first 64 KiB, binary greetings such as
 * MySQL's included), the server closes, or the deadline.
 */
export async function tcpProbe(config: ProbeConfig, ctx: ProbeContext): Promise<ProbeResult> {
  const started_at = Date.now();
  const clock: RunClock = { t0: performance.now(), phases: {} };
  let link: Link | undefined;
  try {
    const { host, port } = config.target!;
    ({ link } = await dial(host, port, clock, ctx.signal));
    const banner = config.expect.banner;
    if (banner !== undefined) await readBanner(link, banner, clock, ctx.signal);
    return answered(config.expect, clock, started_at);
  } catch (err) {
    return {
      ok: false,
      code: errorCode(err, "error"),
      reason: errorMessage(err),
      phases: { ...clock.phases, total: since(clock.t0) },
      started_at,
    };
  } finally {
    link?.close();
  }
}

async function readBanner(
  link: Link,
  banner: string,
  clock: RunClock,
  signal: AbortSignal,
): Promise<void> {
  const want = new TextEncoder().encode(banner);
  const reader = new ConnReader(link.conn, () => {
    clock.phases.first_byte = since(clock.t0);
  });
  const got = () => printable(reader.buffered);
  try {
    while (!contains(reader.buffered, want)) {
      if (reader.buffered.length > MAX_BANNER) {
        throw new ProbeError(
          "banner",
          `banner ${JSON.stringify(banner)} not in the first ${MAX_BANNER} bytes`,
        );
      }
      if (!await reader.fill()) {
        throw new ProbeError(
          "banner",
          reader.buffered.length
            ? `closed before banner ${JSON.stringify(banner)}; got "${got()}"`
            : `closed before sending a banner (expected ${JSON.stringify(banner)})`,
        );
      }
    }
  } catch (err) {
    if (signal.aborted) {
      const seen = reader.buffered.length ? `; got "${got()}"` : "; nothing received";
      throw new ProbeError(
        abortCode(signal),
        `${abortWord(signal)} waiting for banner ${JSON.stringify(banner)}${seen}`,
      );
    }
    if (err instanceof ProbeError) throw err;
    throw new ProbeError(errorCode(err, "error"), `reading the banner: ${errorMessage(err)}`);
  }
}

/** Whether `hay` contains the bytes of `needle`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}
