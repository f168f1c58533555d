/**
 * The socket layer the probes share: resolve a host (timing DNS honestly),
 * connect over TCP (timing the handshake), close the connection the moment
 * the probe's signal aborts, and read from it with a small buffer.
 *
 * Phase times are cumulative milliseconds from the start of the run, as
 * curl's `-w` variables are: `dns <= connect <= tls <= first_byte <= total`.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { type ProbeCode, type ProbePhases, since } from "./types.ts";

/** The phases a run has reached so far; filled in as they happen. */
export type PhaseTimes = Omit<ProbePhases, "total">;

/** A clock for one run: its start (a `performance.now()` reading) and the phases seen. */
export interface RunClock {
  t0: number;
  phases: PhaseTimes;
}

/** A probe failure: its code, and a message that is already the one line a user sees. */
export class ProbeError extends Error {
  override name = "ProbeError";
  readonly code: ProbeCode;

  constructor(code: ProbeCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Deno's error classes and Node's `err.code`s, by the probe code they mean. */
const CODE_OF: [ProbeCode, (new (...args: never[]) => Error)[], string[]][] = [
  ["refused", [Deno.errors.ConnectionRefused], ["ECONNREFUSED"]],
  ["reset", [
    Deno.errors.ConnectionReset,
    Deno.errors.ConnectionAborted,
    Deno.errors.BrokenPipe,
    Deno.errors.UnexpectedEof,
  ], ["ECONNRESET", "ECONNABORTED", "EPIPE"]],
  ["timeout", [Deno.errors.TimedOut], ["ETIMEDOUT"]],
  ["dns", [], ["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME"]],
  ["connect", [Deno.errors.NetworkUnreachable, Deno.errors.AddrNotAvailable], [
    "EHOSTUNREACH",
    "ENETUNREACH",
    "EADDRNOTAVAIL",
  ]],
];

/**
 * The probe code of a thrown error, from its class (`Deno.errors.*`) or its
 * Node `code` (`ECONNREFUSED`, ...); `fallback` for anything else.
 */
export function errorCode(err: unknown, fallback: ProbeCode): ProbeCode {
  if (err instanceof ProbeError) return err.code;
  const nodeCode = (err as { code?: unknown } | null)?.code;
  for (const [code, classes, nodeCodes] of CODE_OF) {
    if (classes.some((c) => err instanceof c)) return code;
    if (typeof nodeCode === "string" && nodeCodes.includes(nodeCode)) return code;
  }
  return fallback;
}

const IPV4_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** True for an IPv4 or IPv6 literal (IPv6 without brackets). */
export function isIpLiteral(host: string): boolean {
  return IPV4_RE.test(host) || host.includes(":");
}

/** A URL's hostname without the brackets IPv6 literals carry in URLs. */
export function bareHostname(url: URL): string {
  const h = url.hostname;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

/** How a run ended early because its signal aborted: `timed out` or `aborted`. */
export function abortWord(signal: AbortSignal): string {
  return abortCode(signal) === "timeout" ? "timed out" : "aborted";
}

/** The code of a run its signal ended: `timeout` (a `TimeoutError` reason) or `aborted`. */
export function abortCode(signal: AbortSignal): "timeout" | "aborted" {
  const r = signal.reason;
  return r instanceof DOMException && r.name === "TimeoutError" ? "timeout" : "aborted";
}

/** The error of a run its signal ended during `step`: `timed out waiting for the response`. */
export function abortError(signal: AbortSignal, step: string): ProbeError {
  return new ProbeError(abortCode(signal), `${abortWord(signal)} ${step}`);
}

/** Whether a code says the run was ended by its signal. */
export function isAbort(code: ProbeCode): boolean {
  return code === "timeout" || code === "aborted";
}

/**
 * Resolve `host` to one address: IP literals as they are, `localhost` to
 * 127.0.0.1, anything else with `Deno.resolveDns` (A, then AAAA when there is
 * no A record; `/etc/hosts` is consulted). Records `dns` on the clock only
 * when a lookup happened.
 *
 * @throws {ProbeError} when the name does not resolve or the signal aborts.
 */
export async function resolveHost(
  host: string,
  clock: RunClock,
  signal: AbortSignal,
): Promise<string> {
  if (isIpLiteral(host)) return host;
  if (host.toLowerCase() === "localhost") return "127.0.0.1";
  let address: string | undefined;
  let error: unknown;
  for (const type of ["A", "AAAA"] as const) {
    try {
      [address] = await Deno.resolveDns(host, type, { signal });
    } catch (err) {
      if (signal.aborted) throw abortError(signal, `resolving ${host}`);
      error ??= err;
    }
    if (address) break;
  }
  if (!address) {
    const why = error instanceof Deno.errors.NotFound || error === undefined
      ? "no such host"
      : errorMessage(error);
    throw new ProbeError("dns", `resolving ${host}: ${why}`);
  }
  clock.phases.dns = since(clock.t0);
  return address;
}

/**
 * A connection that closes itself when `signal` aborts, so a pending read,
 * write or handshake fails at once. Swap in the TLS connection with
 * {@linkcode Link.upgrade}; close it with `using` or {@linkcode Link.close}.
 */
export class Link implements Disposable {
  #conn: Deno.Conn;
  #signal: AbortSignal;
  #closed = false;
  #onAbort = () => this.#closeConn();

  constructor(conn: Deno.Conn, signal: AbortSignal) {
    this.#conn = conn;
    this.#signal = signal;
    signal.addEventListener("abort", this.#onAbort, { once: true });
    if (signal.aborted) this.#closeConn();
  }

  /** The current connection (TCP, or TLS after an upgrade). */
  get conn(): Deno.Conn {
    return this.#conn;
  }

  /** Replace the connection (the TCP one is consumed by `Deno.startTls`). */
  upgrade(conn: Deno.Conn): void {
    this.#conn = conn;
    if (this.#closed) {
      this.#closed = false;
      this.#closeConn();
    }
  }

  /** Write all of `bytes`. */
  async writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Stop watching the signal and close the connection (idempotent). */
  close(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#closeConn();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #closeConn(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** Where {@linkcode dial} connected. */
export interface Dialed {
  link: Link;
  /** The address connected to. */
  address: string;
}

/**
 * Resolve `host` and open a TCP connection (no Nagle delay) that closes when
 * `signal` aborts. Records `dns` (when looked up) and `connect` on the clock.
 *
 * @throws {ProbeError} naming the step that failed.
 */
export async function dial(
  host: string,
  port: number,
  clock: RunClock,
  signal: AbortSignal,
): Promise<Dialed> {
  const address = await resolveHost(host, clock, signal);
  let conn: Deno.TcpConn;
  const where = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  try {
    conn = await Deno.connect({ hostname: address, port, signal });
  } catch (err) {
    if (signal.aborted) throw abortError(signal, `connecting to ${where}`);
    throw new ProbeError(errorCode(err, "connect"), `connecting to ${where}: ${errorMessage(err)}`);
  }
  clock.phases.connect = since(clock.t0);
  try {
    conn.setNoDelay(true);
  } catch {
    // not fatal
  }
  return { link: new Link(conn, signal), address };
}

const EMPTY = new Uint8Array(0);
const DECODER = new TextDecoder();

/**
 * A buffered reader over a connection: lines for protocol heads, chunks for
 * bodies. Calls `onFirstByte` once, when the first byte arrives.
 */
export class ConnReader {
  #conn: Deno.Conn;
  #pending: Uint8Array = EMPTY;
  #scanned = 0;
  #scratch = new Uint8Array(16 * 1024);
  #onFirstByte?: () => void;

  constructor(conn: Deno.Conn, onFirstByte?: () => void) {
    this.#conn = conn;
    this.#onFirstByte = onFirstByte;
  }

  /** Bytes read but not yet taken. */
  get buffered(): Uint8Array {
    return this.#pending;
  }

  /** Read once more from the connection; false at end of stream. */
  async fill(): Promise<boolean> {
    const n = await this.#conn.read(this.#scratch);
    if (n === null) return false;
    if (n === 0) return true;
    if (this.#onFirstByte) {
      this.#onFirstByte();
      this.#onFirstByte = undefined;
    }
    const chunk = this.#scratch.slice(0, n);
    if (this.#pending.length === 0) {
      this.#pending = chunk;
    } else {
      const joined = new Uint8Array(this.#pending.length + n);
      joined.set(this.#pending);
      joined.set(chunk, this.#pending.length);
      this.#pending = joined;
    }
    return true;
  }

  /**
   * One line, without its `\n` or `\r\n`. Returns `null` at end of stream
   * when nothing is pending.
   *
   * @throws {ProbeError} when a line grows past `max` bytes or the stream ends mid-line.
   */
  async line(max: number): Promise<string | null> {
    while (true) {
      const at = this.#pending.indexOf(0x0a, this.#scanned);
      if (at >= 0) {
        const end = at > 0 && this.#pending[at - 1] === 0x0d ? at - 1 : at;
        const text = DECODER.decode(this.#pending.subarray(0, end));
        this.take(at + 1);
        return text;
      }
      this.#scanned = this.#pending.length;
      if (this.#pending.length > max) {
        throw new ProbeError("protocol", `a line longer than ${max} bytes`);
      }
      if (!await this.fill()) {
        if (this.#pending.length === 0) return null;
        throw new ProbeError("reset", "the connection closed in the middle of a line");
      }
    }
  }

  /** Up to `max` bytes: what is buffered, else one read; `null` at end of stream. */
  async chunk(max: number): Promise<Uint8Array | null> {
    if (this.#pending.length === 0 && !await this.fill()) return null;
    const n = Math.min(max, this.#pending.length);
    const out = this.#pending.subarray(0, n);
    this.take(n);
    return out;
  }

  /** Drop `n` buffered bytes. */
  take(n: number): void {
    this.#pending = n >= this.#pending.length ? EMPTY : this.#pending.subarray(n);
    this.#scanned = 0;
  }
}

/** Bytes shown in a reason: printable ASCII kept, the rest escaped, cut at `max` chars. */
export function printable(bytes: Uint8Array, max = 60): string {
  let s = "";
  for (const b of bytes) {
    s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
    if (s.length >= max) return `${s.slice(0, max)}...`;
  }
  return s;
}
