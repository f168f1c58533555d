/**
 * The API server component: the Hono app on {@linkcode serveHttp} (header
 * and request deadlines), graceful shutdown.
 *
 * @module
 */

import type { HostPort } from "../config/reader.ts";
import { formatHostPort } from "../config/reader.ts";
import type { Logger } from "../log/logger.ts";
import { type ApiDeps, createApp } from "./app.ts";
import { type HttpServer, serveHttp } from "./http_server.ts";
import { errorMessage } from "../errors.ts";
import type { Component } from "../component.ts";

/** Serves the API on `listen` until stopped. */
export class ApiServer implements Component {
  readonly name = "api";
  #server?: HttpServer;
  #addr?: HostPort;
  readonly #deps: ApiDeps;
  readonly #listen: HostPort;
  readonly #logger: Logger;

  constructor(listen: HostPort, deps: ApiDeps) {
    this.#listen = listen;
    this.#deps = deps;
    this.#logger = deps.logger.child({ component: "api" });
  }

  /** The address actually bound (the port is known after start, even for port 0). */
  get addr(): HostPort | undefined {
    return this.#addr;
  }

  /** Bind and serve; rejects when the address cannot be bound. */
  async start(): Promise<void> {
    const app = createApp(this.#deps);
    const { host, port } = this.#listen;
    const server = this.#deps.server();
    try {
      this.#server = await serveHttp({
        hostname: host,
        port,
        headerTimeout: server.header_timeout,
        requestTimeout: server.request_timeout,
        onError: (err) => {
          this.#logger.error("request failed", { err: errorMessage(err) });
          return new Response("internal error\n", { status: 500 });
        },
      }, (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === "EADDRINUSE" ? "address already in use" : errorMessage(err);
      throw new Error(`cannot listen on ${formatHostPort(this.#listen)}: ${why}`);
    }
    this.#addr = { host: this.#server.addr.hostname, port: this.#server.addr.port };
    this.#logger.info("listening", { addr: formatHostPort(this.#addr) });
  }

  readiness(): string | undefined {
    return this.#server ? undefined : "not listening";
  }

  /** Stop taking connections and let requests in flight finish. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}
