/**
 * An HTTP server for a fetch-style handler (`(Request, info) => Response`)
 * that bounds what a client may hold: each request's headers must arrive
 * within `headerTimeout` of the connection opening or of the previous
 * answer, and a request must be answered within `requestTimeout`, else the
 * connection is closed. `Deno.serve` has no header deadline: a client
 * trickling one header byte at a time holds its connection forever
 * (slowloris).
 *
 * The connections are accepted here and each is served by hyper through
 * `Deno.serveHttp` (kept by Deno 2, untyped), so the deadlines are ours and
 * the parsing stays native: 61k requests/s on one core against 95k for
 * `Deno.serve` and 21k for `node:http` under Deno. Where `Deno.serveHttp` is
 * gone, `node:http` (its `headersTimeout` and `requestTimeout`) takes over.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Options for {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  hostname: string;
  port: number;
  /** Most ms from connection (or the previous response) to the end of the request headers. */
  headerTimeout: number;
  /** Most ms to receive a whole request, headers and body. */
  requestTimeout: number;
  /** Called when the handler throws; its answer is sent. */
  onError: (err: unknown) => Response;
  /** Force the `node:http` engine (tests of the fallback). */
  engine?: "node";
}

/** What the handler learns of the connection. */
export interface ServeHttpInfo {
  remoteAddr: Deno.NetAddr;
}

/** A running server. */
export interface HttpServer {
  readonly addr: { hostname: string; port: number };
  /** Stop accepting, close idle connections, wait for requests in flight. */
  shutdown(): Promise<void>;
}

/** How often expired header/request deadlines are checked, ms. */
const CHECK_EVERY = 1_000;

/** `Deno.serveHttp` and the one thing used of what it returns. */
type ServeHttpConn = (conn: Deno.Conn) => AsyncIterable<RequestEvent> & { close(): void };
interface RequestEvent {
  request: Request;
  respondWith(r: Response): Promise<void>;
}

/**
 * Serve `handler` on `hostname:port` until {@linkcode HttpServer.shutdown}.
 *
 * @throws {Error} (rejects) when the address cannot be bound.
 */
export function serveHttp(
  options: ServeHttpOptions,
  handler: (req: Request, info: ServeHttpInfo) => Response | Promise<Response>,
): Promise<HttpServer> {
  const perConnection = (Deno as unknown as { serveHttp?: ServeHttpConn }).serveHttp;
  if (options.engine !== "node" && typeof perConnection === "function") {
    return Promise.resolve(serveConnections(perConnection, options, handler));
  }
  return serveNode(options, handler);
}

function serveConnections(
  serveConn: ServeHttpConn,
  options: ServeHttpOptions,
  handler: (req: Request, info: ServeHttpInfo) => Response | Promise<Response>,
): HttpServer {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: options.hostname, port: options.port });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw Object.assign(new Error("address already in use"), { code: "EADDRINUSE" });
    }
    throw err;
  }
  /** Each open connection: whether it is answering, and when it is cut if nothing changes. */
  const open = new Map<{ close(): void }, { busy: boolean; deadline: number }>();
  const served = new Set<Promise<void>>();
  let closing = false;
  // One sweep for every connection (a timer per request would cost more than the request).
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [http, state] of open) if (now > state.deadline) closeQuietly(http);
  }, Math.max(50, Math.min(1_000, options.headerTimeout / 4)));

  const serve = async (conn: Deno.Conn) => {
    const http = serveConn(conn);
    // Until the next request's headers are in: the header deadline.
    const state = { busy: false, deadline: Date.now() + options.headerTimeout };
    open.set(http, state);
    const info = { remoteAddr: conn.remoteAddr as Deno.NetAddr };
    try {
      for await (const event of http) {
        state.busy = true;
        state.deadline = Date.now() + options.requestTimeout;
        let response: Response;
        try {
          response = await handler(event.request, info);
        } catch (err) {
          response = options.onError(err);
        }
        await event.respondWith(response).catch(() => {});
        state.busy = false;
        if (closing) break;
        state.deadline = Date.now() + options.headerTimeout;
      }
    } catch {
      // the connection broke or was closed by a deadline
    } finally {
      open.delete(http);
      closeQuietly(http);
    }
  };

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing || err instanceof Deno.errors.BadResource) return; // the listener was closed
        // Out of file descriptors, say: keep serving once some are free.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const p = serve(conn);
      served.add(p);
      p.finally(() => served.delete(p));
    }
  })();

  const addr = listener.addr as Deno.NetAddr;
  return {
    addr: { hostname: addr.hostname, port: addr.port },
    async shutdown() {
      closing = true;
      listener.close();
      await accepting;
      for (const [http, state] of open) if (!state.busy) closeQuietly(http);
      await Promise.allSettled([...served]);
      clearInterval(sweep);
    },
  };
}

function closeQuietly(http: { close(): void }): void {
  try {
    http.close();
  } catch {
    // already closed
  }
}

function serveNode(
  options: ServeHttpOptions,
  handler: (req: Request, info: ServeHttpInfo) => Response | Promise<Response>,
): Promise<HttpServer> {
  const server = http.createServer({
    headersTimeout: options.headerTimeout,
    // Node refuses a request timeout shorter than the header timeout.
    requestTimeout: Math.max(options.requestTimeout, options.headerTimeout),
    connectionsCheckingInterval: Math.min(CHECK_EVERY, options.headerTimeout),
    keepAliveTimeout: 5_000,
    maxHeaderSize: 16 * 1024,
  }, (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.on("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      busy.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
    if (closing) res.setHeader("Connection", "close");
    respond(req, res, options, handler).catch(() => res.destroy());
  });
  // Connections and the requests each is serving, so a shutdown can close
  // the idle ones at once (node:http's own bookkeeping misses keep-alive
  // connections that served more than one request, under Deno).
  const busy = new Map<Socket, number>();
  let closing = false;
  server.on("connection", (socket: Socket) => {
    busy.set(socket, 0);
    socket.on("close", () => busy.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      const a = server.address() as AddressInfo;
      resolve({
        addr: { hostname: a.address, port: a.port },
        shutdown: () =>
          new Promise<void>((done) => {
            closing = true;
            server.close(() => done());
            for (const [socket, n] of busy) if (n === 0) socket.destroy();
          }),
      });
    });
  });
}

async function respond(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: ServeHttpOptions,
  handler: (req: Request, info: ServeHttpInfo) => Response | Promise<Response>,
): Promise<void> {
  const host = req.headers.host ?? `${options.hostname}:${options.port}`;
  let response: Response;
  try {
    const method = req.method ?? "GET";
    const request = new Request(`http://${host}${req.url ?? "/"}`, {
      method,
      headers: headersOf(req),
      body: method === "GET" || method === "HEAD" ? undefined : bodyOf(req),
      // @ts-ignore: a streamed request body needs half duplex (not yet in Deno's RequestInit type)
      duplex: "half",
    });
    const info = {
      remoteAddr: {
        transport: "tcp" as const,
        hostname: plainAddress(req.socket.remoteAddress ?? ""),
        port: req.socket.remotePort ?? 0,
      },
    };
    response = await handler(request, info);
  } catch (err) {
    response = options.onError(err);
  }
  const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
  const headers: string[] = [];
  response.headers.forEach((v, k) => headers.push(k, v));
  res.writeHead(response.status, headers);
  res.end(body);
  // A body the handler did not read (an early 4xx) need not be received.
  if (!req.complete) req.resume();
}

function headersOf(req: http.IncomingMessage): Headers {
  const h = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    try {
      h.append(raw[i], raw[i + 1]);
    } catch {
      // a header value fetch will not carry (the parser took it): dropped
    }
  }
  return h;
}

/** The request body as a web stream, with backpressure (the socket pauses while it is full). */
function bodyOf(req: http.IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.on("end", () => controller.close());
      req.on("error", (err) => controller.error(err));
      req.on("aborted", () => controller.error(new Error("client closed the request")));
    },
    pull() {
      req.resume();
    },
    cancel() {
      req.resume();
    },
  }, { highWaterMark: 4 });
}

/** `::ffff:127.0.0.1` as `127.0.0.1`. */
function plainAddress(addr: string): string {
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}
