/**
 * TLS for the probes: the handshake over a probe's TCP connection
 * (`Deno.startTls`, which verifies the chain and the name), the extra CAs to
 * trust, and the server certificate's expiry.
 *
 * Deno's `TlsConn` does not expose the peer certificate (its `handshake()`
 * gives only the ALPN protocol), so the expiry is read on a second, short
 * connection with `node:tls` and `TLSSocket.getPeerCertificate(true)`, which
 * walks the whole chain the server sends. That connection only reads the
 * certificate (trust was decided by the first one); its result is cached for
 * a few minutes per address, port and server name, so a frequent probe does
 * not pay two handshakes every run.
 *
 * @module
 */

import tls from "node:tls";
import { errorMessage } from "../errors.ts";
import { abortError, type Link, ProbeError, type RunClock } from "./conn.ts";
import { since } from "./types.ts";

/** The environment variable naming a PEM file of extra CAs for `https`/`sse` probes. */
export const CA_FILE_VAR = "ASTRON_WATCH_CA_FILE";

let envCas: { cas?: string[]; error?: string } | undefined;

/**
 * The extra CAs named by `ASTRON_WATCH_CA_FILE`, read once; `undefined` when unset.
 *
 * @throws {ProbeError} when the variable is set but the file cannot be read.
 */
export function envCaCerts(): string[] | undefined {
  if (!envCas) {
    try {
      const path = Deno.env.get(CA_FILE_VAR);
      envCas = path ? { cas: [Deno.readTextFileSync(path)] } : {};
    } catch (err) {
      envCas = { error: `${CA_FILE_VAR}: ${errorMessage(err)}` };
    }
  }
  if (envCas.error) throw new ProbeError("config", envCas.error);
  return envCas.cas;
}

/**
 * Run the TLS handshake over `link`'s TCP connection (SNI and name check on
 * `servername`, ALPN `http/1.1`) and record `tls` on the clock.
 *
 * @throws {ProbeError} when the handshake fails (untrusted, expired, wrong name) or the signal aborts.
 */
export async function startTls(
  link: Link,
  servername: string,
  caCerts: string[] | undefined,
  clock: RunClock,
  signal: AbortSignal,
): Promise<void> {
  try {
    const conn = await Deno.startTls(link.conn as Deno.TcpConn, {
      hostname: servername,
      caCerts,
      alpnProtocols: ["http/1.1"],
    });
    link.upgrade(conn);
    await conn.handshake();
  } catch (err) {
    if (signal.aborted) throw abortError(signal, "in the TLS handshake");
    throw new ProbeError("tls", `TLS handshake: ${errorMessage(err)}`);
  }
  clock.phases.tls = since(clock.t0);
}

/** Where a certificate is read from. */
export interface CertTarget {
  /** The address to connect to. */
  address: string;
  port: number;
  /** SNI; a literal IP sends none. */
  servername: string;
}

const CERT_TTL_MS = 5 * 60_000;
const certCache = new Map<string, { expiry: number; until: number }>();

/**
 * The earliest `notAfter` among the certificates the server presents, in
 * epoch seconds (blackbox_exporter's `probe_ssl_earliest_cert_expiry`).
 * Cached for five minutes per target.
 *
 * @throws {ProbeError} when the certificate cannot be read or the signal aborts.
 */
export async function earliestCertExpiry(
  target: CertTarget,
  signal: AbortSignal,
): Promise<number> {
  const key = `${target.address}|${target.port}|${target.servername}`;
  const now = Date.now();
  const hit = certCache.get(key);
  if (hit && hit.until > now) return hit.expiry;
  const expiry = await readCertExpiry(target, signal);
  certCache.set(key, { expiry, until: now + CERT_TTL_MS });
  if (certCache.size > 4096) certCache.delete(certCache.keys().next().value!);
  return expiry;
}

interface PeerCert {
  valid_to?: string;
  fingerprint256?: string;
  issuerCertificate?: PeerCert;
}

function readCertExpiry(target: CertTarget, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal, "reading the certificate"));
      return;
    }
    const ip = target.servername.includes(":") || /^[\d.]+$/.test(target.servername);
    const socket = tls.connect({
      host: target.address,
      port: target.port,
      servername: ip ? undefined : target.servername,
      // Trust was checked on the probe's own connection; this one only reads the chain.
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    const finish = (err?: Error, expiry?: number) => {
      signal.removeEventListener("abort", onAbort);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      if (err) reject(err);
      else resolve(expiry!);
    };
    const onAbort = () => finish(abortError(signal, "reading the certificate"));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once(
      "error",
      (err) => finish(new ProbeError("tls", `reading the certificate: ${err.message}`)),
    );
    socket.once("secureConnect", () => {
      let cert = socket.getPeerCertificate(true) as PeerCert;
      let earliest = Infinity;
      const seen = new Set<string>();
      while (cert?.valid_to && !seen.has(cert.fingerprint256 ?? "")) {
        seen.add(cert.fingerprint256 ?? "");
        const t = Date.parse(cert.valid_to);
        if (Number.isFinite(t)) earliest = Math.min(earliest, t / 1000);
        if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
        cert = cert.issuerCertificate;
      }
      if (earliest === Infinity) {
        finish(new ProbeError("cert_expiry", "the server presented no certificate"));
      } else finish(undefined, earliest);
    });
  });
}

/** Whole and fractional days from `nowMs` until `expirySeconds`. */
export function daysLeft(expirySeconds: number, nowMs = Date.now()): number {
  return (expirySeconds * 1000 - nowMs) / 86_400_000;
}

/** The longest the second connection that reads certificate dates may take. */
export const CERT_READ_TIMEOUT_MS = 2_000;

/**
 * The expiry of the certificates a response came over, for an https answer
 * (`servername` set); `undefined` for plain http. A failure to read it is a
 * value (`error`), so the probe can report it only when `cert_days_left` asks.
 * The read has its own short deadline, so a slow second handshake never
 * turns an answered probe into a timeout.
 */
export async function responseCertExpiry(
  res: { address: string; port: number; servername?: string } | undefined,
  signal: AbortSignal,
): Promise<{ cert_expiry?: number; error?: string }> {
  if (res?.servername === undefined) return {};
  try {
    const { address, port, servername } = res;
    const within = AbortSignal.any([signal, AbortSignal.timeout(CERT_READ_TIMEOUT_MS)]);
    return { cert_expiry: await earliestCertExpiry({ address, port, servername }, within) };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}
