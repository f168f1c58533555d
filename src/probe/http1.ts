/**
 * A minimal HTTP/1.1 client over `Deno.connect`/`Deno.startTls`, so a probe
 * can time what `fetch` hides: DNS, TCP connect, TLS, the first response
 * byte. One request per connection (`Connection: close`); bodies framed by
 * `Content-Length`, chunked, or the end of the stream.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { VERSION } from "../version.ts";
import {
  abortError,
  bareHostname,
  ConnReader,
  dial,
  errorCode,
  isAbort,
  type Link,
  ProbeError,
  type RunClock,
} from "./conn.ts";
import { startTls } from "./tls.ts";
import { since } from "./types.ts";

/** One request to send: where, and what. */
export interface Http1Request {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** The `Accept` header unless `headers` sets one; default `*\/*`. */
  accept?: string;
}

/** A request encoded once by {@linkcode prepareRequest}, to send any number of times. */
export interface PreparedRequest {
  url: URL;
  method: string;
  /** The bytes sent: the head, then the body. */
  bytes: Uint8Array;
}

/** Options for {@linkcode http1Request}. */
export interface Http1Options {
  /** Extra CAs to trust for `https:`. */
  caCerts?: string[];
  signal: AbortSignal;
}

/** A response whose head has arrived; the body is read from {@linkcode Http1Response.body}. */
export interface Http1Response extends Disposable {
  status: number;
  statusText: string;
  /** Header values by lower-case name (repeated headers joined with `, `). */
  headers: Map<string, string>;
  /** The address connected to. */
  address: string;
  port: number;
  /** The name sent as SNI and checked against the certificate (https only). */
  servername?: string;
  /** The body, de-chunked, as it arrives. Throws a {@linkcode ProbeError} on failure. */
  body(): AsyncGenerator<Uint8Array>;
  /** Close the connection (idempotent). */
  close(): void;
}

const MAX_HEAD = 64 * 1024;
const MAX_LINE = 16 * 1024;
const USER_AGENT = `astron-watch/${VERSION}`;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
/** Headers the client owns: the caller's values are ignored. */
const OWN_HEADERS = new Set(["connection", "content-length", "transfer-encoding"]);

/**
 * Send one request and read the response head. Fills the clock's `dns`
 * (when a name was resolved), `connect`, `tls` (https) and `first_byte`.
 * The caller must `close()` the response (or use `using`).
 *
 * @throws {ProbeError} a one-line reason naming the step that failed, or
 * `timed out ...`/`aborted ...` when the signal aborts.
 *
 * @example
 * ```ts ignore
 * const clock = { t0: performance.now(), phases: {} };
 * const request = prepareRequest({ url: new URL("http://127.0.0.1:8080/"), method: "GET", headers: {} });
 * using res = await http1Request(request, { signal }, clock);
 * for await (const chunk of res.body()) console.log(chunk.length);
 * ```
 */
export async function http1Request(
  request: PreparedRequest,
  options: Http1Options,
  clock: RunClock,
): Promise<Http1Response> {
  const { signal } = options;
  const { url, method } = request;
  const https = url.protocol === "https:";
  const host = bareHostname(url);
  const port = url.port ? Number(url.port) : https ? 443 : 80;
  const { link, address } = await dial(host, port, clock, signal);
  let step = "sending the request";
  try {
    if (https) await startTls(link, host, options.caCerts, clock, signal);
    const reader = new ConnReader(link.conn, () => {
      clock.phases.first_byte = since(clock.t0);
    });
    await link.writeAll(request.bytes);
    step = "waiting for the response";
    let head: Head;
    do head = await readHead(reader); while (
      head.status >= 100 && head.status < 200 && head.status !== 101
    );
    const framing = bodyFraming(method, head);
    return {
      ...head,
      address,
      port,
      servername: https ? host : undefined,
      body: () => readBody(reader, framing, link, signal),
      close: () => link.close(),
      [Symbol.dispose]: () => link.close(),
    };
  } catch (err) {
    link.close();
    if (clock.phases.first_byte !== undefined) step = "reading the response headers";
    if (signal.aborted) {
      if (err instanceof ProbeError && isAbort(err.code)) throw err;
      throw abortError(signal, step);
    }
    if (err instanceof ProbeError) throw err;
    throw new ProbeError(errorCode(err, "error"), `${step}: ${errorMessage(err)}`);
  }
}

/**
 * Encode `request` (head and body) once: `Host`, `User-Agent` and `Accept`
 * unless its headers set them, `Authorization: Basic` from the URL's
 * credentials, `Content-Length`, `Connection: close`.
 *
 * @throws {ProbeError} (`config`) when a header contains a line break.
 */
export function prepareRequest(request: Http1Request): PreparedRequest {
  const { url, method } = request;
  return { url, method, bytes: encodeRequest(request) };
}

const prepared = new WeakMap<object, PreparedRequest>();

/**
 * {@linkcode prepareRequest} of what `make` returns, once per `key` (a probe's
 * config, which sends the same request every run until a reload replaces it).
 *
 * @throws {ProbeError} as {@linkcode prepareRequest} does (and then nothing is kept).
 */
export function preparedOnce(key: object, make: () => Http1Request): PreparedRequest {
  let request = prepared.get(key);
  if (!request) {
    request = prepareRequest(make());
    prepared.set(key, request);
  }
  return request;
}

function encodeRequest(options: Http1Request): Uint8Array {
  const { url } = options;
  const body = options.body === undefined ? undefined : new TextEncoder().encode(options.body);
  const lines = [`${options.method} ${url.pathname || "/"}${url.search} HTTP/1.1`];
  const given = new Map<string, string>();
  for (const [name, value] of Object.entries(options.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new ProbeError("config", `header ${JSON.stringify(name)} contains a line break`);
    }
    given.set(name.toLowerCase(), name);
  }
  const defaults: [string, string][] = [
    ["Host", url.host],
    ["User-Agent", USER_AGENT],
    ["Accept", options.accept ?? "*/*"],
  ];
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    defaults.push(["Authorization", `Basic ${btoa(binaryString(`${user}:${pass}`))}`]);
  }
  for (const [name, value] of defaults) {
    if (!given.has(name.toLowerCase())) lines.push(`${name}: ${value}`);
  }
  for (const [name, value] of Object.entries(options.headers)) {
    if (!OWN_HEADERS.has(name.toLowerCase())) lines.push(`${name}: ${value}`);
  }
  if (body) lines.push(`Content-Length: ${body.length}`);
  else if (BODY_METHODS.has(options.method)) lines.push("Content-Length: 0");
  lines.push("Connection: close", "", "");
  const head = new TextEncoder().encode(lines.join("\r\n"));
  if (!body) return head;
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  return all;
}

function binaryString(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

interface Head {
  status: number;
  statusText: string;
  headers: Map<string, string>;
}

async function readHead(reader: ConnReader): Promise<Head> {
  const first = await reader.line(MAX_LINE);
  if (first === null) {
    throw new ProbeError("reset", "the server closed the connection without answering");
  }
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(first);
  if (!m) {
    throw new ProbeError(
      "protocol",
      `not an HTTP/1.x response: ${JSON.stringify(first.slice(0, 60))}`,
    );
  }
  const headers = new Map<string, string>();
  let size = first.length;
  while (true) {
    const line = await reader.line(MAX_LINE);
    if (line === null) {
      throw new ProbeError("reset", "the connection closed inside the response headers");
    }
    if (line === "") break;
    size += line.length;
    if (size > MAX_HEAD) {
      throw new ProbeError("protocol", `response headers over ${MAX_HEAD} bytes`);
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(m[1]), statusText: m[2] ?? "", headers };
}

type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | {
  kind: "close";
};

function bodyFraming(method: string, head: Head): Framing {
  if (method === "HEAD" || head.status === 204 || head.status === 304) return { kind: "none" };
  const te = head.headers.get("transfer-encoding");
  if (te && /(^|,)\s*chunked\s*$/i.test(te)) return { kind: "chunked" };
  const cl = head.headers.get("content-length");
  if (cl !== undefined) {
    const length = Number(cl.split(",")[0].trim());
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new ProbeError("protocol", `bad Content-Length ${JSON.stringify(cl)}`);
    }
    return { kind: "length", length };
  }
  return { kind: "close" };
}

async function* readBody(
  reader: ConnReader,
  framing: Framing,
  link: Link,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  try {
    if (framing.kind === "length") {
      let left = framing.length;
      while (left > 0) {
        const chunk = await reader.chunk(left);
        if (chunk === null) {
          throw new ProbeError(
            "reset",
            `the body ended after ${framing.length - left} of ${framing.length} bytes`,
          );
        }
        left -= chunk.length;
        yield chunk;
      }
    } else if (framing.kind === "chunked") {
      while (true) {
        const sizeLine = await reader.line(MAX_LINE);
        if (sizeLine === null) {
          throw new ProbeError("reset", "the chunked body ended without its last chunk");
        }
        const size = parseInt(sizeLine.split(";")[0].trim(), 16);
        if (!Number.isSafeInteger(size) || size < 0) {
          throw new ProbeError(
            "protocol",
            `bad chunk size ${JSON.stringify(sizeLine.slice(0, 20))}`,
          );
        }
        if (size === 0) {
          let trailer: string | null;
          do trailer = await reader.line(MAX_LINE); while (trailer !== null && trailer !== "");
          return;
        }
        let left = size;
        while (left > 0) {
          const chunk = await reader.chunk(left);
          if (chunk === null) {
            throw new ProbeError("reset", "the chunked body ended inside a chunk");
          }
          left -= chunk.length;
          yield chunk;
        }
        if ((await reader.line(2)) !== "") {
          throw new ProbeError("protocol", "a chunk did not end with CRLF");
        }
      }
    } else if (framing.kind === "close") {
      while (true) {
        const chunk = await reader.chunk(Infinity);
        if (chunk === null) return;
        yield chunk;
      }
    }
  } catch (err) {
    link.close();
    if (signal.aborted) throw abortError(signal, "reading the body");
    if (err instanceof ProbeError) throw err;
    throw new ProbeError(errorCode(err, "error"), `reading the body: ${errorMessage(err)}`);
  }
}
